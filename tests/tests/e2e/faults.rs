//! Faults between the services and what they depend on, as `crm serve`
//! runs them: the pipeline service writes deals while a TCP proxy between
//! it and PostgreSQL (or RabbitMQ) adds latency, cuts every connection, and
//! blackholes traffic. Under each fault a write succeeds, or fails with
//! UNAVAILABLE, or at its own deadline, never later and never INTERNAL;
//! health says NOT_SERVING while the database is gone and SERVING after;
//! and once the faults end, every acknowledged deal is there and every
//! event reached the analytics service's projection exactly once.

use std::time::{Duration, Instant};

use crm::{ServiceConfig, ServiceName};
use crm_kit::testing::{
    Backend, TestBroker, TestDatabase, authed,
    proxy::{Fault, FaultProxy},
    token,
};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::oneshot;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use super::{distributed::serve, harness::sales_pipeline};

/// Each write's own deadline.
const DEADLINE: Duration = Duration::from_secs(8);

/// What the fault test runs against.
struct Rig {
    pipeline: PipelineServiceClient<Channel>,
    health: HealthClient<Channel>,
    pipeline_db: DatabaseConnection,
    analytics_db: DatabaseConnection,
    proxy: FaultProxy,
    _stops: Vec<oneshot::Sender<()>>,
    _dbs: (TestDatabase, TestDatabase),
    _broker: TestBroker,
}

/// Which dependency the proxy stands in front of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Between {
    Database,
    Broker,
}

async fn rig(test: &str, between: Between) -> Option<Rig> {
    let broker = crate::harness::suite_broker(test)?;
    let pipeline_db = TestDatabase::create(Backend::Postgres, test).await?;
    let analytics_db = TestDatabase::create(Backend::Postgres, test).await?;
    drop(broker.consumer(crm_analytics::projection::CONSUMER, &[]));
    let upstream = |url: &str| {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        authority.rsplit_once('@').map_or(authority, |(_, h)| h).to_owned()
    };
    let proxy = match between {
        Between::Database => FaultProxy::start(&upstream(&pipeline_db.url)).await,
        Between::Broker => FaultProxy::start(&upstream(&broker.config.url)).await,
    };
    let mut amqp = broker.config.clone();
    if between == Between::Broker {
        amqp.url = proxy.url(&amqp.url);
    }
    let config = |database_url: String, pipeline_url: &str| ServiceConfig {
        contacts_url: "http://127.0.0.1:1".into(),
        pipeline_url: pipeline_url.to_owned(),
        amqp: Some(amqp.clone()),
        ..ServiceConfig::new(database_url, crm_kit::testing::auth_config())
    };
    let db_url = match between {
        Between::Database => proxy.url(&pipeline_db.url),
        Between::Broker => pipeline_db.url.clone(),
    };
    let (pipeline_url, p) = serve(ServiceName::Pipeline, config(db_url, "")).await;
    let (_analytics_url, a) = serve(ServiceName::Analytics, config(analytics_db.url.clone(), &pipeline_url)).await;
    let channel = crate::harness::wait_serving(&pipeline_url).await;
    Some(Rig {
        pipeline: PipelineServiceClient::new(channel.clone()),
        health: HealthClient::new(channel),
        pipeline_db: sea_orm::Database::connect(&pipeline_db.url).await.unwrap(),
        analytics_db: sea_orm::Database::connect(&analytics_db.url).await.unwrap(),
        proxy,
        _stops: vec![p, a],
        _dbs: (pipeline_db, analytics_db),
        _broker: broker,
    })
}

/// One write: its outcome and how long it took.
type Outcome = (Result<String, Code>, Duration);

/// Writes deals into `pipeline_id` until `stop`, one every 50 ms.
async fn writer(
    mut client: PipelineServiceClient<Channel>,
    pipeline_id: String,
    mut stop: oneshot::Receiver<()>,
) -> Vec<Outcome> {
    let t = token("acme", "ann", &["admin"]);
    let mut outcomes = Vec::new();
    for n in 0.. {
        if stop.try_recv().is_ok() {
            break;
        }
        let deal = pb::Deal {
            pipeline_id: pipeline_id.clone(),
            title: format!("Deal {n}"),
            ..Default::default()
        };
        let mut req = authed(
            &t,
            pb::CreateDealRequest {
                deal: Some(deal),
                request_id: String::new(),
            },
        );
        req.set_timeout(DEADLINE);
        let started = Instant::now();
        let reply = client.create_deal(req).await;
        let outcome = reply.map(|r| r.into_inner().deal.unwrap().id).map_err(|s| s.code());
        outcomes.push((outcome, started.elapsed()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    outcomes
}

async fn serving(health: &mut HealthClient<Channel>) -> bool {
    let check = health.check(HealthCheckRequest { service: String::new() });
    matches!(
        tokio::time::timeout(Duration::from_secs(2), check).await,
        Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32
    )
}

/// Waits up to `within` for health to say `want`.
async fn health_says(health: &mut HealthClient<Channel>, want: bool, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if serving(health).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Runs the writer through `faults` (each held for its duration, with a
/// quiet spell between), checking health where the fault takes the
/// database away; returns the writes' outcomes.
async fn through(rig: &mut Rig, faults: &[(Fault, Duration, bool)]) -> Vec<Outcome> {
    let p = sales_pipeline(&mut rig.pipeline, &token("acme", "ann", &["admin"])).await;
    let (stop, stopped) = oneshot::channel();
    let writing = tokio::spawn(writer(rig.pipeline.clone(), p.id, stopped));
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (fault, hold, database_gone) in faults {
        rig.proxy.set(*fault);
        if *database_gone {
            assert!(
                health_says(&mut rig.health, false, Duration::from_secs(15)).await,
                "NOT_SERVING while the database is gone ({fault:?})"
            );
        }
        tokio::time::sleep(*hold).await;
        rig.proxy.set(Fault::None);
        assert!(
            health_says(&mut rig.health, true, Duration::from_secs(15)).await,
            "SERVING once the fault ends ({fault:?})"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let _ = stop.send(());
    writing.await.unwrap()
}

/// Every write ended in time with a code a retrying caller can act on; and
/// once the faults are over, every acknowledged deal is stored and every
/// event was projected once.
async fn check(rig: &Rig, outcomes: &[Outcome], writes_fail: bool) {
    let mut wrong = Vec::new();
    let mut acknowledged = Vec::new();
    for (outcome, took) in outcomes {
        if *took > DEADLINE + Duration::from_secs(1) {
            wrong.push(format!("a write took {took:?}"));
        }
        match outcome {
            Ok(id) => acknowledged.push(id.clone()),
            Err(Code::Unavailable | Code::DeadlineExceeded) => {}
            Err(code) => wrong.push(format!("a write failed with {code:?}")),
        }
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for (outcome, _) in outcomes {
        *codes
            .entry(outcome.as_ref().map_or_else(|c| format!("{c:?}"), |_| "Ok".into()))
            .or_default() += 1;
    }
    let slowest = outcomes.iter().map(|(_, took)| *took).max().unwrap_or_default();
    eprintln!(
        "faults: {} writes: {codes:?}; the slowest took {slowest:?}",
        outcomes.len()
    );
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(acknowledged.len() > 20, "writes went through: {}", acknowledged.len());
    // A database fault fails some writes; a broker fault none (the events
    // wait in the outbox).
    assert_eq!(
        outcomes.len() > acknowledged.len(),
        writes_fail,
        "{} of {} writes acknowledged",
        acknowledged.len(),
        outcomes.len()
    );
    // The outbox drains, and the projection applied each event once.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = count(
            &rig.pipeline_db,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
        )
        .await;
        let events = count(&rig.pipeline_db, "SELECT COUNT(*) FROM outbox").await;
        let applied = count(
            &rig.analytics_db,
            "SELECT COUNT(*) FROM processed_events WHERE consumer = 'analytics'",
        )
        .await;
        if pending == 0 && applied == events {
            break;
        }
        assert!(
            Instant::now() < until,
            "{pending} events pending, {applied} of {events} projected"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deals = count(&rig.pipeline_db, "SELECT COUNT(*) FROM deals").await;
    let projected = count(&rig.analytics_db, "SELECT COUNT(*) FROM analytics_deals").await;
    assert_eq!(projected, deals, "each deal projected once");
    for id in &acknowledged {
        let found = count(
            &rig.pipeline_db,
            &format!("SELECT COUNT(*) FROM deals WHERE id = '{id}'"),
        )
        .await;
        assert_eq!(found, 1, "acknowledged deal {id} is stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_slow_a_cut_and_a_blackholed_database() {
    let Some(mut rig) = rig("faults_database", Between::Database).await else {
        return;
    };
    let faults = [
        (
            Fault::Latency(Duration::from_millis(300)),
            Duration::from_secs(4),
            false,
        ),
        (Fault::Down, Duration::from_secs(6), true),
        (Fault::Blackhole, Duration::from_secs(6), true),
    ];
    let outcomes = through(&mut rig, &faults).await;
    check(&rig, &outcomes, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_slow_a_cut_and_a_blackholed_broker() {
    let Some(mut rig) = rig("faults_broker", Between::Broker).await else {
        return;
    };
    let faults = [
        (
            Fault::Latency(Duration::from_millis(300)),
            Duration::from_secs(4),
            false,
        ),
        (Fault::Down, Duration::from_secs(6), false),
        (Fault::Blackhole, Duration::from_secs(6), false),
    ];
    let outcomes = through(&mut rig, &faults).await;
    check(&rig, &outcomes, false).await;
}

/// The gateway in front of `crm up`, its PipelineService backend behind a
/// proxy that cuts every connection for two seconds: calls to the pipeline
/// fail with UNAVAILABLE while it is cut and succeed again after (tonic's
/// channel makes a new connection on the next call), and ContactsService
/// calls through the same gateway all succeed throughout (each backend has
/// a connection of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reconnects_a_cut_backend_and_no_other_backend_notices() {
    use crm_proto::contacts::v1::{ListContactsRequest, contacts_service_client::ContactsServiceClient};
    let suite = crate::harness::up(Backend::Sqlite, "faults_gateway").await.unwrap();
    let proxy = FaultProxy::start(suite.url.trim_start_matches("http://")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let config = ServiceConfig {
        contacts_url: suite.url.clone(),
        pipeline_url: proxy.url(&suite.url),
        tasks_url: suite.url.clone(),
        analytics_url: suite.url.clone(),
        ..ServiceConfig::new("", crm_kit::testing::auth_config())
    };
    tokio::spawn(crm::run_service(
        ServiceName::Gateway,
        listener,
        config,
        std::future::pending(),
    ));
    let channel = crate::harness::wait_serving(&url).await;
    let t = token("acme", "ann", &["admin"]);
    let (halt, halted) = tokio::sync::watch::channel(false);
    let contacts = {
        let (mut client, t, halted) = (ContactsServiceClient::new(channel.clone()), t.clone(), halted.clone());
        tokio::spawn(async move {
            let mut codes = Vec::new();
            while !*halted.borrow() {
                let r = client.list_contacts(authed(&t, ListContactsRequest::default())).await;
                codes.push(r.map_or_else(|s| s.code(), |_| Code::Ok));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            codes
        })
    };
    let pipelines = {
        let (mut client, t) = (PipelineServiceClient::new(channel.clone()), t.clone());
        tokio::spawn(async move {
            let mut codes = Vec::new();
            while !*halted.borrow() {
                let r = client
                    .list_pipelines(authed(&t, pb::ListPipelinesRequest::default()))
                    .await;
                codes.push((Instant::now(), r.map_or_else(|s| s.code(), |_| Code::Ok)));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            codes
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set(Fault::Down);
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.set(Fault::None);
    let healed = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = halt.send(true);
    let contacts = contacts.await.unwrap();
    let pipelines = pipelines.await.unwrap();
    assert!(contacts.iter().all(|c| *c == Code::Ok), "contacts calls: {contacts:?}");
    assert!(
        pipelines.iter().all(|(_, c)| matches!(c, Code::Ok | Code::Unavailable)),
        "pipeline calls: {pipelines:?}"
    );
    assert!(
        pipelines.iter().any(|(_, c)| *c == Code::Unavailable),
        "the cut was felt"
    );
    let after: Vec<_> = pipelines
        .iter()
        .filter(|(at, _)| *at > healed + Duration::from_secs(2))
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|(_, c)| *c == Code::Ok),
        "reconnected: {after:?}"
    );
}
