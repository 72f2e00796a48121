//! What the gateway adds to a call: the same GetDeal, `CRM_BENCH_CALLS`
//! times (default 5,000) one after another, straight to the pipeline
//! service and through a gateway in front of it (gRPC, and JSON over one
//! kept-alive HTTP/1.1 connection); p50 and p99 of each.
//! Run: `cargo bench -p crm-e2e --bench gateway` (on PostgreSQL when
//! `CRM_TEST_DATABASE_URL` is set, else SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crm::{ServiceConfig, ServiceName};
use crm_kit::testing::{Backend, TEST_SECRET, TestDatabase, auth_config, authed, token};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

mod common;

fn main() {
    common::block_on(run());
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    (listener, url)
}

async fn run() {
    let calls: usize = common::env_or("CRM_BENCH_CALLS", 5000);
    let (backend, db) = match TestDatabase::create(Backend::Postgres, "bench_gateway").await {
        Some(db) => ("PostgreSQL", db),
        None => (
            "SQLite",
            TestDatabase::create(Backend::Sqlite, "bench_gateway").await.unwrap(),
        ),
    };
    let config = ServiceConfig {
        // GetDeal asks nobody; a contact check would fail fast.
        contacts_url: "http://127.0.0.1:9".into(),
        ..ServiceConfig::new(&db.url, auth_config())
    };
    let (listener, direct_url) = listen().await;
    tokio::spawn(crm::run_service(
        ServiceName::Pipeline,
        listener,
        config,
        std::future::pending(),
    ));
    let (listener, gateway_url) = listen().await;
    let gateway_config = crm_gateway::GatewayConfig {
        // The benchmark is one tenant calling as fast as it can.
        limits: crm_gateway::limits::LimitConfig {
            rate: 1e9,
            burst: 1e9,
            in_flight: 64,
            capacity: 1024,
        },
        ..crm_gateway::GatewayConfig::all_at(&direct_url)
    };
    let verifier = crm_kit::auth::TokenVerifier::hs256(TEST_SECRET);
    let (gateway, _health) = crm_gateway::Gateway::new(&gateway_config, verifier).unwrap();
    tokio::spawn(crm_gateway::serve(listener, gateway, std::future::pending()));

    let t = token("bench", "ann", &["admin"]);
    let direct_channel = common::connect(&direct_url).await;
    let mut direct = PipelineServiceClient::new(direct_channel.clone());
    let mut through = PipelineServiceClient::new(common::connect(&gateway_url).await);

    // One deal to read.
    let p = common::create_pipeline(direct_channel.clone(), &t, "Bench", &["Lead"]).await;
    let deal = common::create_deal(direct_channel, &t, &p.id, "Bench deal").await;
    let get = || authed(&t, pb::GetDealRequest { id: deal.id.clone() });

    println!("GetDeal, {calls} sequential calls each, {backend}; p50 / p99 in ms:");
    // Alternating rounds, so drift on the machine falls on both alike.
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut http = Http::connect(&gateway_url).await;
    let body = format!("{{\"id\": \"{}\"}}", deal.id);
    for _ in 0..calls / 100 {
        for _ in 0..100 {
            let t0 = Instant::now();
            direct.get_deal(get()).await.unwrap();
            a.push(t0.elapsed());
            let t0 = Instant::now();
            through.get_deal(get()).await.unwrap();
            b.push(t0.elapsed());
            let t0 = Instant::now();
            let status = http.post("/crm.pipeline.v1.PipelineService/GetDeal", &t, &body).await;
            assert_eq!(status, 200);
            c.push(t0.elapsed());
        }
    }
    let report = |name: &str, v: &mut Vec<Duration>| {
        v.sort_unstable();
        let (p50, p99) = (common::quantile_ms(v, 0.50), common::quantile_ms(v, 0.99));
        println!("  {name:<38} {p50:>6.2} / {p99:>6.2}");
        (p50, p99)
    };
    let d = report("direct (gRPC)", &mut a);
    let g = report("through the gateway (gRPC)", &mut b);
    report("through the gateway (JSON, HTTP/1.1)", &mut c);
    println!(
        "  the gateway adds {:.2} ms at p50 and {:.2} ms at p99 to a gRPC call",
        g.0 - d.0,
        g.1 - d.1
    );
}

/// One kept-alive HTTP/1.1 connection, as a browser or curl would hold.
struct Http {
    host: String,
    stream: BufReader<TcpStream>,
}

impl Http {
    async fn connect(url: &str) -> Self {
        let host = url.trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&host).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            host,
            stream: BufReader::new(stream),
        }
    }

    /// POSTs `body` as JSON; returns the status (the reply body is read and dropped).
    async fn post(&mut self, path: &str, token: &str, body: &str) -> u16 {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(req.as_bytes()).await.unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).await.unwrap();
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut reply = vec![0; length];
        self.stream.read_exact(&mut reply).await.unwrap();
        status
    }
}
