//! The server bootstrap every service shares: the gRPC health service
//! (readiness follows the databases), server reflection over every
//! contract, a span per RPC, and graceful shutdown.

pub mod deadline;
pub mod mistakes;
pub mod stall;

use std::{future::Future, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tonic::{service::Routes, transport::server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};

/// The HTTP/2 header-list limit (`SETTINGS_MAX_HEADER_LIST_SIZE`) of every
/// server and every client of the suite, in bytes. A header block over it
/// is refused by h2 for that stream alone when it fits one frame, but one
/// that spans CONTINUATION frames past it ends the whole connection: so
/// every hop accepts far more than any hop sends (tokens are at most
/// [`crate::auth::MAX_TOKEN_BYTES`], errors stay under 16 KiB, and the
/// gateway forwards at most [`MAX_FORWARDED_HEADERS`]).
pub const MAX_HEADER_LIST: u32 = 256 * 1024;

/// The most header bytes the gateway forwards with one call (names and
/// values); a call with more is RESOURCE_EXHAUSTED, before it reaches a
/// service.
pub const MAX_FORWARDED_HEADERS: usize = 32 * 1024;

/// HTTP/2 keep-alive, on every server and client of the suite: a PING
/// this often on a connection, and the connection is closed when the peer
/// has not answered within [`KEEPALIVE_TIMEOUT`] (a peer that vanished
/// without a FIN is found out, and its streams end).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// See [`KEEPALIVE_INTERVAL`].
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most concurrent streams (calls) one HTTP/2 connection may hold, on
/// the gateway and the services: a flood on one connection waits for its
/// own streams, and what one connection can hold in memory is bounded by
/// this times the message limit (4 MiB).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// How long a caller may take to send an HTTP/1.1 request head (the
/// gateway's JSON face); also how long an idle keep-alive HTTP/1.1
/// connection stays open between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the gateway keeps an HTTP/2 connection that holds no call.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);

/// What to serve: the services' routes, the names the health service
/// reports, and the databases whose reachability decides readiness.
pub struct Serve {
    /// The tonic services (already wrapped in their auth interceptors).
    pub routes: Routes,
    /// Fully-qualified service names, e.g. `crm.pipeline.v1.PipelineService`.
    pub service_names: Vec<&'static str>,
    /// The databases to watch, in the order of `service_names` (the
    /// metrics label each pool with the service at its position).
    pub databases: Vec<DatabaseConnection>,
}

/// Serves on `listener` until `shutdown` resolves; then reports NOT_SERVING,
/// stops accepting, and lets in-flight calls finish.
pub async fn serve(listener: TcpListener, what: Serve, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    set_all(&reporter, &what.service_names, ServingStatus::Serving).await;
    let watcher = tokio::spawn(watch_databases(
        reporter.clone(),
        what.service_names.clone(),
        what.databases,
    ));

    let reflection_v1 = reflection_v1()?;
    let reflection_v1alpha = reflection_v1alpha()?;

    let names = what.service_names.clone();
    let reporter_on_stop = reporter.clone();
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: NOT_SERVING, finishing in-flight calls");
        watcher.abort();
        set_all(&reporter_on_stop, &names, ServingStatus::NotServing).await;
        let _ = stopping_tx.send(());
    };
    // Calls that never end by themselves (a health Watch, WatchReminders)
    // would hold the shutdown forever: after DRAIN they are cut, and their
    // clients reconnect to another replica.
    let drained = async {
        if stopping.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(DRAIN).await;
        tracing::warn!(
            "calls still open {}s after the shutdown began (streams); closing them",
            DRAIN.as_secs()
        );
    };

    let server = tonic::transport::Server::builder()
        // Explicit, and the same on every hop (see MAX_HEADER_LIST).
        .http2_max_header_list_size(MAX_HEADER_LIST)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        // A peer that vanished is found out, and its calls end.
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        // One span per RPC (method, trace id), and the call's W3C trace
        // context made current so the events it writes carry it.
        .layer(crate::trace::TraceLayer)
        // Counts and times every call by method and code (crm_rpc_*).
        .layer(crate::metrics::rpc::RpcMetricsLayer::for_services(&what.service_names))
        // An expired deadline is DEADLINE_EXCEEDED (tonic says CANCELLED).
        .layer(deadline::DeadlineLayer)
        // A request tonic cannot decode is the caller's mistake, counted
        // as such: INVALID_ARGUMENT or RESOURCE_EXHAUSTED, not INTERNAL.
        .layer(mistakes::layer())
        // A request body that sends nothing for a while ends its call.
        .layer(stall::StallLayer(stall::BODY_IDLE_TIMEOUT))
        .add_routes(what.routes)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(
            // No Nagle: a reply written in two segments would otherwise wait
            // out the client's delayed ACK (40 ms).
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        );
    tokio::select! {
        served = server => served.context("serving gRPC"),
        () = drained => Ok(()),
    }
}

/// How long a stopping server waits for its in-flight calls: well inside
/// Kubernetes' (and podman's) 30 s grace before SIGKILL.
const DRAIN: Duration = Duration::from_secs(10);

/// The reflection builder over every contract, the health service, and
/// the google.rpc error details (so grpcurl can print BadRequest & co.).
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// Server reflection v1 over the whole contract set.
pub fn reflection_v1() -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
> {
    reflection().build_v1().context("building reflection v1")
}

/// Server reflection v1alpha (what older grpcurl asks) over the whole contract set.
pub fn reflection_v1alpha() -> anyhow::Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<impl tonic_reflection::server::v1alpha::ServerReflection>,
> {
    reflection().build_v1alpha().context("building reflection v1alpha")
}

async fn set_all(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

/// Pings the databases every few seconds; readiness is NOT_SERVING while
/// any of them is unreachable.
async fn watch_databases(reporter: HealthReporter, names: Vec<&'static str>, dbs: Vec<DatabaseConnection>) {
    let mut serving = true;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        crate::metrics::pools_sampled(&names, &dbs);
        let mut up = true;
        for db in &dbs {
            // A database behind a partition answers nothing at all: a ping
            // that takes this long counts as down.
            let ping = tokio::time::timeout(Duration::from_secs(2), db.ping()).await;
            up &= matches!(ping, Ok(Ok(())));
        }
        if up != serving {
            serving = up;
            tracing::warn!(serving, "database reachability changed");
            let status = if up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            set_all(&reporter, &names, status).await;
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
