//! One tenant's flood, and what another tenant sees meanwhile: `crm up`
//! (SQLite) with every per-tenant limit raised, tenant B calling GetDeal one
//! call after another (its p50/p99 alone first), then tenant A opening
//! `CRM_FLOOD_CONNECTIONS` (default 10) connections with
//! `CRM_FLOOD_STREAMS` (default 1,000) GetDeal calls each in flight at once,
//! for `CRM_FLOOD_SECONDS` (default 20): B's p50/p99 during it, A's answers
//! by code, and the process's RSS before, at the peak, and 10 s after.
//! Run: `cargo bench -p crm-e2e --bench flood`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crm_kit::testing::{Backend, TestDatabase, authed, token};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient};
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// The allocator of the `crm` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{connect, env_or, quantile_ms, rss_mib};

fn main() {
    common::block_on(run());
}

/// A deal of `tenant` to read.
async fn a_deal(c: Channel, tenant: &str) -> String {
    let t = token(tenant, "ann", &["admin"]);
    let p = common::create_pipeline(c.clone(), &t, "Flood", &["Lead"]).await;
    common::create_deal(c, &t, &p.id, "Flooded").await.id
}

/// B's GetDeal, one after another for `d`: p50 and p99 in ms, and failures.
async fn measure(c: Channel, id: &str, d: Duration) -> (f64, f64, usize) {
    let t = token("tenant-b", "bob", &["admin"]);
    let mut client = PipelineServiceClient::new(c);
    let (mut took, mut failed) = (Vec::new(), 0);
    let until = Instant::now() + d;
    while Instant::now() < until {
        let started = Instant::now();
        let r = client
            .get_deal(authed(&t, pb::GetDealRequest { id: id.to_owned() }))
            .await;
        took.push(started.elapsed());
        failed += usize::from(r.is_err());
    }
    took.sort_unstable();
    (quantile_ms(&took, 0.50), quantile_ms(&took, 0.99), failed)
}

async fn run() {
    let (connections, streams, seconds) = (
        env_or("CRM_FLOOD_CONNECTIONS", 10),
        env_or("CRM_FLOOD_STREAMS", 1000),
        env_or("CRM_FLOOD_SECONDS", 20_u64),
    );
    let dbs: Vec<TestDatabase> =
        futures_util::future::join_all((0..4).map(|_| TestDatabase::create(Backend::Sqlite, "flood")))
            .await
            .into_iter()
            .map(Option::unwrap)
            .collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let config = crm::SuiteConfig {
        contacts_db: dbs[0].url.clone(),
        pipeline_db: dbs[1].url.clone(),
        tasks_db: dbs[2].url.clone(),
        analytics_db: dbs[3].url.clone(),
        auth: crm_kit::testing::auth_config(),
        // Every per-tenant limit raised: only the gateway's capacity holds.
        limits: crm_gateway::limits::LimitConfig {
            rate: 1e9,
            burst: 1e9,
            in_flight: 1_000_000,
            ..Default::default()
        },
    };
    tokio::spawn(crm::run_suite(listener, config, std::future::pending()));
    let b = connect(&url).await;
    let (a_id, b_id) = (a_deal(b.clone(), "tenant-a").await, a_deal(b.clone(), "tenant-b").await);
    let before = rss_mib();
    let (alone50, alone99, _) = measure(b.clone(), &b_id, Duration::from_secs(10)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let codes = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let peak = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for _ in 0..connections {
        let c = connect(&url).await;
        for _ in 0..streams {
            let (c, stop, codes, id) = (c.clone(), stop.clone(), codes.clone(), a_id.clone());
            flood.push(tokio::spawn(async move {
                let t = token("tenant-a", "ann", &["admin"]);
                let mut client = PipelineServiceClient::new(c);
                while !stop.load(Ordering::Relaxed) {
                    let r = client.get_deal(authed(&t, pb::GetDealRequest { id: id.clone() })).await;
                    let code = r.map_or_else(|s| format!("{:?}", s.code()), |_| "Ok".into());
                    *codes.lock().unwrap().entry(code).or_default() += 1;
                }
            }));
        }
    }
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max((rss_mib() * 10.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (during50, during99, failed) = measure(b.clone(), &b_id, Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }
    let _ = sampler.await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = rss_mib();
    println!(
        "flood: tenant A with {connections} connections x {streams} GetDeal in flight, every per-tenant limit raised"
    );
    println!("  tenant B GetDeal alone:        p50 {alone50:.2} ms, p99 {alone99:.2} ms");
    println!(
        "  tenant B GetDeal in the flood: p50 {during50:.2} ms, p99 {during99:.2} ms, {failed} failed (p99 x{:.1})",
        during99 / alone99
    );
    println!("  tenant A's answers: {:?}", codes.lock().unwrap());
    println!(
        "  RSS: {before:.0} MiB before, {:.0} MiB at the peak, {after:.0} MiB 10 s after",
        peak.load(Ordering::Relaxed) as f64 / 10.0
    );
}
