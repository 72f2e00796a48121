//! Prometheus metrics: one process-wide registry, every series labelled
//! with the `service` it belongs to, so `crm up` (every service in one
//! process) and `crm serve <service>` (one per process) expose the same
//! names.
//!
//! - `crm_rpc_requests_total` and `crm_rpc_duration_seconds` by service,
//!   method (`/pkg.Service/Method`) and gRPC code ([`rpc`]);
//! - `crm_outbox_backlog` and `crm_outbox_oldest_age_seconds`, sampled by
//!   the outbox relay;
//! - `crm_events_published_total` (after the broker's confirm),
//!   `crm_events_consumed_total`, `crm_events_retried_total` and
//!   `crm_events_dead_lettered_total` by service and event type, and
//!   `crm_consumer_lag_seconds` (from the event's `occurred_at` to its
//!   commit by the consumer);
//! - `crm_db_pool_connections` by service and state (`idle`, `in_use`).
//!
//! The hooks below only count; [`endpoint`] serves the text exposition on
//! `GET /metrics` when a metrics address is configured.

pub mod endpoint;
pub mod rpc;

use std::{
    sync::{OnceLock, atomic::AtomicU64},
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use sea_orm::{DatabaseConnection, DatabaseConnectionType};

/// The labels of an RPC's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    service: String,
    method: String,
    code: &'static str,
}

/// The labels of an event's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    service: String,
    event_type: String,
}

/// Just the service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

/// A pool's connections in one state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    service: String,
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process, and the registry that encodes them.
struct Metrics {
    registry: Registry,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: Histograms<RpcLabels>,
    outbox_backlog: Family<ServiceLabels, Gauge>,
    outbox_oldest_age: Family<ServiceLabels, Gauge<f64, AtomicU64>>,
    published: Family<EventLabels, Counter>,
    consumed: Family<EventLabels, Counter>,
    retried: Family<EventLabels, Counter>,
    dead_lettered: Family<EventLabels, Counter>,
    consumer_lag: Histograms<ServiceLabels>,
    pool: Family<PoolLabels, Gauge>,
}

/// 1 ms to about 33 s: RPCs and event lags both fall in there.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            rpc_requests: Family::default(),
            rpc_duration: Family::new_with_constructor(latency_buckets),
            outbox_backlog: Family::default(),
            outbox_oldest_age: Family::default(),
            published: Family::default(),
            consumed: Family::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            consumer_lag: Family::new_with_constructor(latency_buckets),
            pool: Family::default(),
        };
        let r = &mut m.registry;
        r.register("crm_rpc_requests", "RPCs answered", m.rpc_requests.clone());
        r.register(
            "crm_rpc_duration_seconds",
            "RPC latency until the reply's last frame",
            m.rpc_duration.clone(),
        );
        r.register(
            "crm_outbox_backlog",
            "Outbox rows not yet published",
            m.outbox_backlog.clone(),
        );
        r.register(
            "crm_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row",
            m.outbox_oldest_age.clone(),
        );
        r.register(
            "crm_events_published",
            "Events the broker confirmed",
            m.published.clone(),
        );
        r.register(
            "crm_events_consumed",
            "Events a consumer applied and committed",
            m.consumed.clone(),
        );
        r.register(
            "crm_events_retried",
            "Event deliveries that failed and will be retried",
            m.retried.clone(),
        );
        r.register(
            "crm_events_dead_lettered",
            "Events given up on (dead-lettered)",
            m.dead_lettered.clone(),
        );
        r.register(
            "crm_consumer_lag_seconds",
            "From an event's occurred_at to its consumer's commit",
            m.consumer_lag.clone(),
        );
        r.register(
            "crm_db_pool_connections",
            "Database pool connections by state",
            m.pool.clone(),
        );
        m
    }
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The whole registry in the OpenMetrics text format.
pub fn render() -> String {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &metrics().registry) {
        tracing::warn!(error = %e, "encoding the metrics");
    }
    text
}

/// Counts one finished RPC of `service` and its latency.
pub fn rpc_finished(service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
    let labels = RpcLabels {
        service: service.to_owned(),
        method: method.to_owned(),
        code: code_name(code),
    };
    let m = metrics();
    m.rpc_requests.get_or_create(&labels).inc();
    m.rpc_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
}

/// Sets `service`'s outbox gauges: rows waiting and the oldest one's age.
pub fn outbox_sampled(service: &str, backlog: u64, oldest_age: Duration) {
    let labels = ServiceLabels {
        service: service.to_owned(),
    };
    let m = metrics();
    m.outbox_backlog
        .get_or_create(&labels)
        .set(i64::try_from(backlog).unwrap_or(i64::MAX));
    m.outbox_oldest_age.get_or_create(&labels).set(oldest_age.as_secs_f64());
}

fn event_labels(service: &str, event_type: &str) -> EventLabels {
    EventLabels {
        service: service.to_owned(),
        event_type: event_type.to_owned(),
    }
}

/// Counts an event of `service` the broker (or every local consumer) confirmed.
pub fn event_published(service: &str, event_type: &str) {
    metrics()
        .published
        .get_or_create(&event_labels(service, event_type))
        .inc();
}

/// Counts an event consumer `service` applied and committed, and its lag
/// since `occurred_at` (µs since the epoch).
pub fn event_consumed(service: &str, event_type: &str, occurred_at_micros: Option<i64>) {
    let m = metrics();
    m.consumed.get_or_create(&event_labels(service, event_type)).inc();
    if let Some(at) = occurred_at_micros {
        let lag = (crate::time::now_micros() - at).max(0) as f64 / 1e6;
        m.consumer_lag
            .get_or_create(&ServiceLabels {
                service: service.to_owned(),
            })
            .observe(lag);
    }
}

/// Counts a delivery to consumer `service` that failed and will be retried.
pub fn event_retried(service: &str, event_type: &str) {
    metrics()
        .retried
        .get_or_create(&event_labels(service, event_type))
        .inc();
}

/// Counts an event consumer `service` gave up on.
pub fn event_dead_lettered(service: &str, event_type: &str) {
    metrics()
        .dead_lettered
        .get_or_create(&event_labels(service, event_type))
        .inc();
}

/// Sets `service`'s pool gauges from `db`'s pool as it is now.
pub fn pool_sampled(service: &str, db: &DatabaseConnection) {
    let (size, idle) = match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return,
    };
    let idle = i64::try_from(idle).unwrap_or(i64::MAX);
    let m = metrics();
    let gauge = |state| {
        m.pool.get_or_create(&PoolLabels {
            service: service.to_owned(),
            state,
        })
    };
    gauge("idle").set(idle);
    gauge("in_use").set((i64::from(size) - idle).max(0));
}

/// Samples the pools of `databases`, each labelled by the service of the
/// same position in `service_names` (fully-qualified names, as
/// [`crate::server::Serve`] lists them).
pub fn pools_sampled(service_names: &[&str], databases: &[DatabaseConnection]) {
    for (name, db) in service_names.iter().zip(databases) {
        pool_sampled(service_label(name).unwrap_or(name), db);
    }
}

/// The short service label of a fully-qualified gRPC service or method
/// path: `crm.pipeline.v1.PipelineService` and
/// `/crm.pipeline.v1.PipelineService/MoveDeal` are `pipeline`; anything
/// outside the `crm.` packages (health, reflection) has none.
pub fn service_label(name: &str) -> Option<&str> {
    name.trim_start_matches('/').strip_prefix("crm.")?.split('.').next()
}

/// The gRPC code's canonical name, as grpc-go and the spec spell it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_label_is_the_crm_package_name() {
        assert_eq!(
            service_label("/crm.pipeline.v1.PipelineService/MoveDeal"),
            Some("pipeline")
        );
        assert_eq!(service_label("crm.contacts.v1.ContactsService"), Some("contacts"));
        assert_eq!(service_label("/grpc.health.v1.Health/Check"), None);
    }

    #[test]
    fn counters_appear_in_the_exposition_with_their_labels() {
        event_published("unit-test-svc", "unit.thing.happened");
        let text = render();
        assert!(
            text.contains(r#"crm_events_published_total{service="unit-test-svc",event_type="unit.thing.happened"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
