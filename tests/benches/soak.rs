//! A soak: steady mixed load through the gateway for `CRM_SOAK_SECONDS`
//! (default 1,800), on PostgreSQL and RabbitMQ, every service served alone
//! as `crm serve` runs it (in this process), with analytics and tasks
//! consuming. Every `CRM_SOAK_EVERY` seconds (default 60) it prints the
//! window's calls, errors by code, p50/p99, the process's RSS and open file
//! descriptors, and the pipeline outbox's backlog: over a healthy soak the
//! errors stay at zero and the last three stay flat.
//!
//! Run: `CRM_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//! CRM_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f cargo bench -p crm-e2e --bench soak`.
//! `CRM_SOAK_WORKERS` (default 16) callers, each one call after another.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crm::{ServiceConfig, ServiceName};
use crm_kit::testing::{Backend, TestBroker, TestDatabase, auth_config, authed, token};
use crm_proto::{
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use sea_orm::{ConnectionTrait, Statement};
use tokio::net::TcpListener;
use tonic::{Code, transport::Channel};

/// The allocator of the `crm` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{connect, env_or, quantile_ms, rss_mib};

fn main() {
    common::block_on(run());
}

async fn serve(service: ServiceName, config: ServiceConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    tokio::spawn(crm::run_service(service, listener, config, std::future::pending()));
    url
}

/// What the callers saw in one window.
#[derive(Default)]
struct Window {
    latencies: Vec<Duration>,
    codes: BTreeMap<String, u64>,
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// One caller: create a deal, read it, move it, list a page, now and then
/// a contact; records each call.
async fn caller(channel: Channel, tenant: String, pipeline: pb::Pipeline, window: Arc<Mutex<Window>>, until: Instant) {
    let t = token(&tenant, "ann", &["admin"]);
    let mut deals = PipelineServiceClient::new(channel.clone());
    let mut contacts = ContactsServiceClient::new(channel);
    let record = |started: Instant, code: Code| {
        let mut w = window.lock().unwrap();
        w.latencies.push(started.elapsed());
        *w.codes.entry(format!("{code:?}")).or_default() += 1;
    };
    let code = |s: &tonic::Status| s.code();
    for n in 0_u64.. {
        if Instant::now() >= until {
            return;
        }
        let started = Instant::now();
        let deal = pb::Deal {
            pipeline_id: pipeline.id.clone(),
            title: format!("Soak {n}"),
            ..Default::default()
        };
        let req = pb::CreateDealRequest {
            deal: Some(deal),
            request_id: String::new(),
        };
        let created = deals.create_deal(authed(&t, req)).await;
        record(started, created.as_ref().map_or_else(code, |_| Code::Ok));
        let Ok(created) = created else { continue };
        let d = created.into_inner().deal.unwrap();
        let started = Instant::now();
        let got = deals
            .get_deal(authed(&t, pb::GetDealRequest { id: d.id.clone() }))
            .await;
        record(started, got.as_ref().map_or_else(code, |_| Code::Ok));
        let started = Instant::now();
        let mv = pb::MoveDealRequest {
            deal_id: d.id.clone(),
            stage_id: pipeline.stages[1].id.clone(),
            etag: d.etag.clone(),
            lost_reason: String::new(),
        };
        let moved = deals.move_deal(authed(&t, mv)).await;
        record(started, moved.as_ref().map_or_else(code, |_| Code::Ok));
        let started = Instant::now();
        let list = pb::ListDealsRequest {
            pipeline_id: pipeline.id.clone(),
            page_size: 50,
            ..Default::default()
        };
        let listed = deals.list_deals(authed(&t, list)).await;
        record(started, listed.as_ref().map_or_else(code, |_| Code::Ok));
        if n % 10 == 0 {
            let started = Instant::now();
            let c = cpb::CreateContactRequest {
                contact: Some(cpb::Contact {
                    first_name: format!("Soak {n}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            };
            let made = contacts.create_contact(authed(&t, c)).await;
            record(started, made.as_ref().map_or_else(code, |_| Code::Ok));
        }
    }
}

async fn run() {
    let seconds = env_or("CRM_SOAK_SECONDS", 1800_u64);
    let every = env_or("CRM_SOAK_EVERY", 60_u64);
    let workers = env_or("CRM_SOAK_WORKERS", 16);
    let broker = TestBroker::create("soak").expect("the soak needs RabbitMQ: set CRM_TEST_AMQP_URL");
    broker.will_hold(&[
        crm_contacts::CONSUMER,
        crm_tasks::automation::CONSUMER,
        crm_analytics::projection::CONSUMER,
    ]);
    let mut dbs = Vec::new();
    for name in ["soak_contacts", "soak_pipeline", "soak_tasks", "soak_analytics"] {
        dbs.push(
            TestDatabase::create(Backend::Postgres, name)
                .await
                .expect("the soak needs PostgreSQL: set CRM_TEST_DATABASE_URL"),
        );
    }
    let config = |db: &str, contacts: &str, pipeline: &str, tasks: &str, analytics: &str| ServiceConfig {
        contacts_url: contacts.to_owned(),
        pipeline_url: pipeline.to_owned(),
        tasks_url: tasks.to_owned(),
        analytics_url: analytics.to_owned(),
        amqp: Some(broker.config.clone()),
        ..ServiceConfig::new(db, auth_config())
    };
    let contacts = serve(ServiceName::Contacts, config(&dbs[0].url, "", "", "", "")).await;
    let pipeline = serve(ServiceName::Pipeline, config(&dbs[1].url, &contacts, "", "", "")).await;
    let tasks = serve(ServiceName::Tasks, config(&dbs[2].url, &contacts, &pipeline, "", "")).await;
    let analytics = serve(ServiceName::Analytics, config(&dbs[3].url, "", &pipeline, "", "")).await;
    let gateway = serve(
        ServiceName::Gateway,
        config("", &contacts, &pipeline, &tasks, &analytics),
    )
    .await;
    let channel = connect(&gateway).await;
    let pipeline_db = sea_orm::Database::connect(&dbs[1].url).await.unwrap();
    let window = Arc::new(Mutex::new(Window::default()));
    let until = Instant::now() + Duration::from_secs(seconds);
    // A tenant per four callers (each tenant well inside its own limits).
    for w in 0..workers {
        let tenant = format!("soak-{}", w / 4);
        let t = token(&tenant, "ann", &["admin"]);
        let p = common::create_pipeline(channel.clone(), &t, &format!("Soak {w}"), &["Lead", "Demo"]).await;
        tokio::spawn(caller(channel.clone(), tenant, p, window.clone(), until));
    }
    println!("soak: {workers} callers through the gateway for {seconds} s, one line per {every} s");
    println!(
        "{:>6} {:>8} {:>9} {:>8} {:>8} {:>9} {:>5} {:>7}  errors",
        "t (s)", "calls", "calls/s", "p50 ms", "p99 ms", "RSS MiB", "fds", "backlog"
    );
    let started = Instant::now();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(every).min(until - Instant::now())).await;
        let w = std::mem::take(&mut *window.lock().unwrap());
        let mut latencies = w.latencies;
        latencies.sort_unstable();
        let calls = latencies.len();
        let errors: BTreeMap<_, _> = w.codes.into_iter().filter(|(c, _)| c != "Ok").collect();
        let sql = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL";
        let row = pipeline_db
            .query_one_raw(Statement::from_string(pipeline_db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        let backlog: i64 = row.try_get_by_index(0).unwrap();
        println!(
            "{:>6} {calls:>8} {:>9.0} {:>8.1} {:>8.1} {:>9.1} {:>5} {backlog:>7}  {errors:?}",
            started.elapsed().as_secs(),
            calls as f64 / every as f64,
            quantile_ms(&latencies, 0.50),
            quantile_ms(&latencies, 0.99),
            rss_mib(),
            open_fds(),
        );
    }
}
