//! The analytics benchmark (not a timed test): the production shape on this
//! machine (pipeline and analytics each served alone, on their own
//! PostgreSQL databases, events through RabbitMQ), loaded with a seeded
//! history of `CRM_BENCH_DEALS` deals (default 1,000,000, about five stage
//! entries each) through ImportDeals. It prints:
//!
//! - the import rate, and how fast analytics projected the import events;
//! - the first read of the pipeline (the read model's load);
//! - p50/p95 latency of each analytics RPC over `CRM_BENCH_CALLS` calls;
//! - the event lag from a live MoveDeal to the funnel showing it (p50, p99),
//!   with `CRM_BENCH_MOVES_PER_SECOND` moves (default 500) for
//!   `CRM_BENCH_MOVE_SECONDS` (default 20) while a client polls GetFunnel.
//!
//! Run: `cargo bench -p crm-e2e --bench analytics` with CRM_TEST_DATABASE_URL
//! and CRM_TEST_AMQP_URL set (as `.ci/run` sets them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crm::{
    ServiceConfig, ServiceName,
    demo::data::{self, date, ts},
};
use crm_analytics::domain::rng::SplitMix64;
use crm_kit::testing::{Backend, TestBroker, TestDatabase, auth_config, authed, token, wait_queue};
use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use futures_util::StreamExt as _;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::Channel;

const DAY: i64 = 86_400_000_000;
const TENANT: &str = "bench";

/// Open stages: name, probability, rotting days, mean dwell (days),
/// conversion: about five stage entries per deal; Demo is the bottleneck.
const OPEN: [data::OpenStage; 6] = [
    ("Lead", 10, 14, 3.0, 0.93),
    ("Qualified", 20, 14, 5.0, 0.90),
    ("Demo", 35, 21, 18.0, 0.62),
    ("Proposal", 55, 14, 6.0, 0.88),
    ("Negotiation", 75, 10, 5.0, 0.86),
    ("Contract", 90, 10, 3.0, 0.92),
];
const OWNERS: [&str; 8] = ["ava", "ben", "chloe", "dev", "emma", "finn", "gus", "hana"];
const PROFILE: data::Profile = data::Profile {
    open: &OPEN,
    owners: &OWNERS,
};

mod common;

use common::env_or;

fn main() {
    // RUST_LOG=crm_analytics=debug shows where each report spent its time.
    if std::env::var_os("RUST_LOG").is_some() {
        drop(crm_kit::telemetry::init(false, "crm-bench"));
    }
    common::block_on(run());
}

async fn serve(service: ServiceName, config: ServiceConfig) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crm::run_service(service, listener, config, async {
        let _ = stopped.await;
    }));
    common::connect(&url).await;
    (url, stop)
}

async fn run() {
    let deals: usize = env_or("CRM_BENCH_DEALS", 1_000_000);
    let calls: usize = env_or("CRM_BENCH_CALLS", 100);
    let rate: u64 = env_or("CRM_BENCH_MOVES_PER_SECOND", 500);
    let move_seconds: u64 = env_or("CRM_BENCH_MOVE_SECONDS", 20);
    let Some(broker) = TestBroker::create("bench") else {
        panic!("the benchmark needs RabbitMQ: set CRM_TEST_AMQP_URL");
    };
    // Whichever service starts first declares every consumer's queue.
    broker.will_hold(&[
        crm_contacts::CONSUMER,
        crm_tasks::automation::CONSUMER,
        crm_analytics::projection::CONSUMER,
    ]);
    let mut dbs = Vec::new();
    for name in ["bench_contacts", "bench_pipeline", "bench_analytics"] {
        let db = TestDatabase::create(Backend::Postgres, name).await;
        dbs.push(db.expect("the benchmark needs PostgreSQL: set CRM_TEST_DATABASE_URL"));
    }
    // Registers the analytics queues with the test broker, so they go with it.
    drop(broker.consumer(crm_analytics::projection::CONSUMER, &[]));
    drop(broker.consumer(crm_contacts::CONSUMER, &[]));
    let config = |db: &TestDatabase, contacts: &str, pipeline: &str| ServiceConfig {
        contacts_url: contacts.to_owned(),
        pipeline_url: pipeline.to_owned(),
        amqp: Some(broker.config.clone()),
        ..ServiceConfig::new(&db.url, auth_config())
    };
    let (contacts_url, _c) = serve(ServiceName::Contacts, config(&dbs[0], "", "")).await;
    let (pipeline_url, _p) = serve(ServiceName::Pipeline, config(&dbs[1], &contacts_url, "")).await;
    let (analytics_url, _a) = serve(ServiceName::Analytics, config(&dbs[2], &contacts_url, &pipeline_url)).await;
    wait_queue(
        &broker.config.url,
        &broker.config.queue(crm_analytics::projection::CONSUMER),
    )
    .await;

    let t = token(TENANT, "bench-admin", &["admin"]);
    let channel = |url: &str| {
        tonic::transport::Endpoint::from_shared(url.to_owned())
            .unwrap()
            .connect_lazy()
    };
    let mut pipeline = PipelineServiceClient::new(channel(&pipeline_url));
    let mut analytics = AnalyticsServiceClient::new(channel(&analytics_url));
    let p = pipeline
        .create_pipeline(authed(&t, data::pipeline(&PROFILE, "Benchmark")))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    // Analytics started on an empty database: the tenant's first read
    // catches up from the pipeline service (nothing to bring yet).
    // (UNAVAILABLE while it catches up: a catch-up that collides with the
    // consumer projecting the new pipeline is retried on the next read.)
    let now = crm_kit::time::now_micros();
    let mut tries = 0;
    while let Err(e) = analytics
        .get_funnel(authed(&t, funnel(&p.id, period(now - DAY, now))))
        .await
    {
        tries += 1;
        assert!(tries < 60 && e.code() == tonic::Code::Unavailable, "{e:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("Benchmark: {deals} deals, PostgreSQL and RabbitMQ, pipeline and analytics served alone.");

    // 1. Import.
    let shape = Arc::new(Mutex::new(Shape::default()));
    let generated = {
        let (p, shape) = (p.clone(), shape.clone());
        let mut rng = SplitMix64::new(2026);
        tokio_stream::iter((0..deals).map(move |_| generate(&p, &mut rng, now, &mut shape.lock().unwrap())))
    };
    let started = Instant::now();
    let imported = pipeline.import_deals(authed(&t, generated)).await.unwrap().into_inner();
    let import_secs = started.elapsed().as_secs_f64();
    assert_eq!(
        (imported.imported, imported.rejected),
        (deals as i64, 0),
        "{:?}",
        imported.errors.first()
    );
    let shape = shape.lock().unwrap().clone();
    println!(
        "import: {} deals with {} stage entries in {:.1} s: {:.0} deals/s ({:.0} entries/s)",
        deals,
        shape.entries,
        import_secs,
        deals as f64 / import_secs,
        shape.entries as f64 / import_secs
    );

    // 2. Analytics catches up with the import events.
    let year = period(now - 366 * DAY, now + DAY);
    let caught_up = Instant::now();
    let mut last_report = Instant::now();
    let first_read;
    loop {
        let call = Instant::now();
        let f = analytics
            .get_funnel(authed(&t, funnel(&p.id, year)))
            .await
            .unwrap()
            .into_inner();
        let open: i64 = f.stages.iter().map(|s| s.current_count).sum();
        let seen = open + f.won + f.lost;
        if seen == deals as i64 {
            first_read = call.elapsed();
            break;
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            println!("  ... analytics holds {seen} of {deals} deals");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let projected = caught_up.elapsed().as_secs_f64() + import_secs;
    println!(
        "analytics: every imported deal projected {:.1} s after the import began ({:.0} deals/s end to end)",
        projected,
        deals as f64 / projected
    );
    println!(
        "  open {} / won {} / lost {} (as generated: {} / {} / {})",
        deals as i64 - shape.won - shape.lost,
        shape.won,
        shape.lost,
        shape.open,
        shape.won,
        shape.lost
    );
    println!(
        "  last catch-up read (GetFunnel over the year): {} ms",
        first_read.as_millis()
    );

    // 3. Latency of each RPC.
    println!("\nRPC latency over {calls} sequential calls each (after 3 warm-up calls):");
    println!("  {:<22} {:>8} {:>8}", "RPC", "p50 ms", "p95 ms");
    let quarter = period(now - 90 * DAY, now);
    let mut rows = Vec::new();
    // GetFunnel keeps the counts of the funnels asked for lately current
    // (deal by deal as deals change), so the same funnel again costs no
    // pass: each call here asks for a period a second later than the last,
    // which is counted afresh; "again" asks for one period every time.
    let mut shift = 0;
    let mut fresh_quarter = move || {
        shift += 1;
        period(now - 90 * DAY + shift * 1_000_000, now)
    };
    rows.push((
        "GetFunnel",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(&t, funnel(&p.id, fresh_quarter()));
            async move { c.get_funnel(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetFunnel (again)",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(&t, funnel(&p.id, quarter));
            async move { c.get_funnel(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetStageDurations",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(
                &t,
                a::GetStageDurationsRequest {
                    pipeline_id: p.id.clone(),
                    owner_id: String::new(),
                    period: quarter,
                },
            );
            async move { c.get_stage_durations(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetForecast",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(
                &t,
                a::GetForecastRequest {
                    pipeline_id: p.id.clone(),
                    owner_id: String::new(),
                    from: date(now),
                    to: date(now + 180 * DAY),
                    grouping: a::ForecastGrouping::Month as i32,
                    lookback_days: 0,
                    min_sample: 0,
                    seed: 7,
                    ..Default::default()
                },
            );
            async move { c.get_forecast(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetVelocity",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(
                &t,
                a::GetVelocityRequest {
                    pipeline_id: p.id.clone(),
                    owner_id: String::new(),
                    lookback_days: 90,
                },
            );
            async move { c.get_velocity(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetBottlenecks",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(
                &t,
                a::GetBottlenecksRequest {
                    pipeline_id: p.id.clone(),
                    owner_id: String::new(),
                    period: quarter,
                    min_entries: 0,
                    stalled_limit: 0,
                },
            );
            async move { c.get_bottlenecks(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetOwnerPerformance",
        time(calls, || {
            let mut c = analytics.clone();
            let r = authed(
                &t,
                a::GetOwnerPerformanceRequest {
                    pipeline_id: p.id.clone(),
                    owner_id: String::new(),
                    period: quarter,
                    ..Default::default()
                },
            );
            async move { c.get_owner_performance(r).await.map(|_| ()) }
        })
        .await,
    ));
    rows.push((
        "GetFunnel (one owner)",
        time(calls, || {
            let mut c = analytics.clone();
            let mut req = funnel(&p.id, fresh_quarter());
            req.owner_id = "ava".into();
            let r = authed(&t, req);
            async move { c.get_funnel(r).await.map(|_| ()) }
        })
        .await,
    ));
    for (name, (p50, p95)) in &rows {
        println!("  {name:<22} {p50:>8.1} {p95:>8.1}");
    }

    // 4. Event lag under live moves.
    let moves_began = crm_kit::time::now_micros();
    lag(&mut pipeline, &mut analytics, &t, &p, rate, move_seconds).await;
    lag_parts(&dbs[1].url, &dbs[2].url, moves_began).await;
}

/// Where the moves' events spent their time, from the rows they left: the
/// pipeline's outbox (written with the move; confirmed by the broker) and
/// the analytics inbox (the projection's transaction began).
async fn lag_parts(pipeline_db: &str, analytics_db: &str, since: i64) {
    use sea_orm::{ConnectionTrait, Database, DatabaseBackend::Postgres, Statement};
    let query = |url: String, sql: &'static str| async move {
        let db = Database::connect(url).await.unwrap();
        db.query_all_raw(Statement::from_sql_and_values(Postgres, sql, [since.into()]))
            .await
            .unwrap()
    };
    let outbox = query(
        pipeline_db.to_owned(),
        "SELECT event_id, created_at, published_at FROM outbox \
         WHERE event_type = 'pipeline.deal.stage_changed' AND created_at >= $1",
    )
    .await;
    let inbox = query(
        analytics_db.to_owned(),
        "SELECT event_id, processed_at FROM processed_events WHERE consumer = 'analytics' AND processed_at >= $1",
    )
    .await;
    let applied: std::collections::HashMap<String, i64> = inbox
        .iter()
        .map(|r| {
            (
                r.try_get("", "event_id").unwrap(),
                r.try_get("", "processed_at").unwrap(),
            )
        })
        .collect();
    let (mut relay, mut consume) = (Vec::new(), Vec::new());
    for r in &outbox {
        let id: String = r.try_get("", "event_id").unwrap();
        let created: i64 = r.try_get("", "created_at").unwrap();
        let Some(published) = r.try_get::<Option<i64>>("", "published_at").unwrap() else {
            continue;
        };
        relay.push((published - created) as f64 / 1e3);
        if let Some(at) = applied.get(&id) {
            consume.push((at - published) as f64 / 1e3);
        }
    }
    relay.sort_by(f64::total_cmp);
    consume.sort_by(f64::total_cmp);
    println!(
        "  of which: outbox to broker confirm p50 {:.0} ms, p99 {:.0} ms; confirm to projection p50 {:.0} ms, p99 {:.0} ms ({} events)",
        rank(&relay, 50),
        rank(&relay, 99),
        rank(&consume, 50),
        rank(&consume, 99),
        consume.len()
    );
}

#[derive(Clone, Debug, Default)]
struct Shape {
    entries: u64,
    open: i64,
    won: i64,
    lost: i64,
}

fn period(from: i64, to: i64) -> Option<a::Period> {
    Some(a::Period {
        from: ts(from),
        to: ts(to),
    })
}

fn funnel(pipeline_id: &str, period: Option<a::Period>) -> a::GetFunnelRequest {
    a::GetFunnelRequest {
        pipeline_id: pipeline_id.to_owned(),
        owner_id: String::new(),
        period,
        ..Default::default()
    }
}

/// One deal from the demo generator with the benchmark's profile, counted into `shape`.
fn generate(p: &pb::Pipeline, rng: &mut SplitMix64, now: i64, shape: &mut Shape) -> pb::ImportDealsRequest {
    let deal = data::deal(p, &PROFILE, rng, now);
    let (won, lost) = (&p.stages[OPEN.len()].id, &p.stages[OPEN.len() + 1].id);
    let last = &deal.history.last().unwrap().stage_id;
    match last {
        s if s == won => shape.won += 1,
        s if s == lost => shape.lost += 1,
        _ => shape.open += 1,
    }
    shape.entries += deal.history.len() as u64;
    deal
}

/// p50 and p95 in ms of `n` sequential calls, after 3 warm-up calls.
async fn time<F, Fut>(n: usize, mut call: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    for _ in 0..3 {
        call().await.unwrap();
    }
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call().await.unwrap();
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    (rank(&ms, 50), rank(&ms, 95))
}

/// The nearest-rank percentile `p` of sorted `v`.
fn rank(v: &[f64], p: usize) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((p * v.len()).div_ceil(100)).clamp(1, v.len()) - 1]
}

/// Moves open Lead deals to Qualified at `rate` per second for `seconds`,
/// while one client polls GetFunnel. The k-th move to complete is visible
/// once a poll (sent after the move completed) counts k more deals in
/// Qualified; its lag is from the move's reply to that poll's reply.
async fn lag(
    pipeline: &mut PipelineServiceClient<Channel>,
    analytics: &mut AnalyticsServiceClient<Channel>,
    t: &str,
    p: &pb::Pipeline,
    rate: u64,
    seconds: u64,
) {
    let (lead, qualified) = (p.stages[0].id.clone(), p.stages[1].id.clone());
    let total = (rate * seconds) as usize;
    // The movers: open deals in Lead, read from the board.
    let mut movers = Vec::new();
    let mut page_token = String::new();
    while movers.len() < total {
        let req = pb::ListDealsRequest {
            pipeline_id: p.id.clone(),
            stage_id: lead.clone(),
            page_size: 500,
            page_token: page_token.clone(),
            ..Default::default()
        };
        let r = pipeline.list_deals(authed(t, req)).await.unwrap().into_inner();
        movers.extend(r.deals.into_iter().filter(|d| d.stage_id == lead).map(|d| d.id));
        if r.next_page_token.is_empty() {
            break;
        }
        page_token = r.next_page_token;
    }
    movers.truncate(total);
    let count = |f: &a::GetFunnelResponse, stage: &str| {
        f.stages
            .iter()
            .find(|s| s.stage_id == stage)
            .map_or(0, |s| s.current_count)
    };
    let now = crm_kit::time::now_micros();
    let req = || authed(t, funnel(&p.id, period(now - DAY, now + DAY)));
    // Too few open deals in Lead (a small data set): new ones, projected
    // before the clock starts.
    if movers.len() < total {
        let missing = total - movers.len();
        println!("\n(creating {missing} more deals in Lead to move)");
        let created = futures_util::stream::iter(0..missing)
            .map(|i| {
                let mut c = pipeline.clone();
                let deal = pb::Deal {
                    pipeline_id: p.id.clone(),
                    title: format!("Lag {i}"),
                    owner_id: OWNERS[i % OWNERS.len()].into(),
                    ..Default::default()
                };
                let r = authed(
                    t,
                    pb::CreateDealRequest {
                        deal: Some(deal),
                        request_id: String::new(),
                    },
                );
                async move { c.create_deal(r).await.unwrap().into_inner().deal.unwrap().id }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        movers.extend(created);
        let in_lead = |f: &a::GetFunnelResponse| count(f, &lead) as usize;
        while in_lead(&analytics.get_funnel(req()).await.unwrap().into_inner()) < total {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let total = movers.len();
    let count = |f: &a::GetFunnelResponse| count(f, &qualified);
    let base = count(&analytics.get_funnel(req()).await.unwrap().into_inner());

    let done: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mover = {
        let (done, pipeline, t, qualified) = (done.clone(), pipeline.clone(), t.to_owned(), qualified.clone());
        let refused = refused.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            let mut calls = tokio::task::JoinSet::new();
            for id in movers {
                tick.tick().await;
                let (mut c, done, t, to) = (pipeline.clone(), done.clone(), t.clone(), qualified.clone());
                let refused = refused.clone();
                calls.spawn(async move {
                    let req = pb::MoveDealRequest {
                        deal_id: id,
                        stage_id: to,
                        etag: String::new(),
                        lost_reason: String::new(),
                    };
                    // A refused move (the pipeline service overloaded:
                    // UNAVAILABLE) is counted, not waited for.
                    match c.move_deal(authed(&t, req)).await {
                        Ok(_) => done.lock().unwrap().push(Instant::now()),
                        Err(e) => {
                            assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
            while calls.join_next().await.is_some() {}
        })
    };
    // Polls: (sent, replied, moves visible).
    let mut polls: Vec<(Instant, Instant, usize)> = Vec::new();
    let started = Instant::now();
    loop {
        let sent = Instant::now();
        let f = analytics.get_funnel(req()).await.unwrap().into_inner();
        let seen = usize::try_from(count(&f) - base).unwrap_or(0);
        polls.push((sent, Instant::now(), seen));
        // Every move made (some may have been refused) and seen.
        let made = done.lock().unwrap().len();
        if (mover.is_finished() && seen >= made) || started.elapsed() > Duration::from_secs(seconds + 60) {
            break;
        }
    }
    mover.await.unwrap();
    let refused = refused.load(std::sync::atomic::Ordering::Relaxed);
    let mut done = done.lock().unwrap().clone();
    done.sort();
    let mut lags: Vec<f64> = done
        .iter()
        .enumerate()
        .filter_map(|(k, &moved)| {
            let poll = polls.iter().find(|(sent, _, seen)| *sent >= moved && *seen > k)?;
            Some((poll.1 - moved).as_secs_f64() * 1e3)
        })
        .collect();
    let achieved = done.len() as f64
        / (done.last().copied().unwrap_or(started) - started)
            .as_secs_f64()
            .max(1e-9);
    lags.sort_by(f64::total_cmp);
    println!(
        "\nEvent lag, MoveDeal reply to GetFunnel reply showing it: {} moves at {:.0}/s (asked {rate}/s), {} refused, {} polls",
        done.len(),
        achieved,
        refused,
        polls.len()
    );
    println!(
        "  p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} of {} moves seen)",
        rank(&lags, 50),
        rank(&lags, 99),
        lags.last().copied().unwrap_or(0.0),
        lags.len(),
        done.len()
    );
}
