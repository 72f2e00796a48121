//! The metrics endpoint seen from outside: real gRPC calls through a real
//! server with the metrics layer, then `GET /metrics` over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Duration};

use crm_kit::{
    server::Serve,
    testing::{Backend, TestDatabase, TestServer, has_sample, sample, scrape},
};
use tonic::service::Routes;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A service name no other test uses: its series are this test's alone.
const SERVICE: &str = "crm.metricstest.v1.MetricsTestService";
const CHECK: &str = "/grpc.health.v1.Health/Check";

async fn metrics_port() -> SocketAddr {
    let any = "127.0.0.1:0".parse().unwrap();
    crm_kit::metrics::endpoint::spawn(Some(any)).await.unwrap().unwrap()
}

/// Scrapes until `name{labels}` reaches `want` (the count lands when the
/// reply's last frame leaves the server, a moment after the client has it).
async fn wait_for(addr: SocketAddr, name: &str, labels: &[(&str, &str)], want: f64) -> String {
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(addr).await;
        if sample(&text, name, labels) >= want {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}{labels:?} never reached {want}:\n{text}");
}

#[tokio::test]
async fn rpcs_are_counted_by_method_and_code_and_the_pool_is_sampled() {
    let metrics = metrics_port().await;
    let database = TestDatabase::create(Backend::Sqlite, "metrics").await.unwrap();
    let db = crm_kit::db::connect(&database.url).await.unwrap();
    let server = TestServer::start(Serve {
        routes: Routes::default(),
        service_names: vec![SERVICE],
        databases: vec![db],
    })
    .await;
    let mut health = HealthClient::new(server.channel().await);
    let ok = [("service", "metricstest"), ("method", CHECK), ("code", "OK")];
    let not_found = [("service", "metricstest"), ("method", CHECK), ("code", "NOT_FOUND")];
    let before = scrape(metrics).await;
    let (ok_before, missing_before) = (
        sample(&before, "crm_rpc_requests_total", &ok),
        sample(&before, "crm_rpc_requests_total", &not_found),
    );

    let req = HealthCheckRequest {
        service: SERVICE.into(),
    };
    health.check(req).await.expect("the service is SERVING");
    let text = wait_for(metrics, "crm_rpc_requests_total", &ok, ok_before + 1.0).await;
    assert_eq!(sample(&text, "crm_rpc_requests_total", &ok), ok_before + 1.0, "{text}");
    assert_eq!(
        sample(&text, "crm_rpc_duration_seconds_count", &ok),
        ok_before + 1.0,
        "the latency histogram saw the call too"
    );

    let req = HealthCheckRequest {
        service: "no.such.Service".into(),
    };
    let status = health.check(req).await.expect_err("an unknown service is NOT_FOUND");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let text = wait_for(metrics, "crm_rpc_requests_total", &not_found, missing_before + 1.0).await;
    assert_eq!(
        sample(&text, "crm_rpc_requests_total", &ok),
        ok_before + 1.0,
        "the error did not count as OK"
    );

    for state in ["idle", "in_use"] {
        assert!(
            has_sample(
                &text,
                "crm_db_pool_connections",
                &[("service", "metricstest"), ("state", state)]
            ),
            "pool gauge {state} missing:\n{text}"
        );
    }
}

#[tokio::test]
async fn only_get_metrics_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let metrics = metrics_port().await;
    let mut stream = tokio::net::TcpStream::connect(metrics).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
}
