//! Callers that never finish a request: 100 HTTP/1.1 requests whose head
//! never ends, and 100 HTTP/2 calls whose body never comes. The gateway
//! cuts each off (the head after `HEADER_READ_TIMEOUT`, the body after
//! `BODY_IDLE_TIMEOUT`; before, both were held for as long as the caller
//! liked) and serves everyone else meanwhile.

use std::time::{Duration, Instant};

use bytes::Bytes;
use crm_kit::{
    server::{HEADER_READ_TIMEOUT, stall::BODY_IDLE_TIMEOUT},
    testing::{Backend, authed, token},
};
use crm_proto::pipeline::v1::{ListPipelinesRequest, pipeline_service_client::PipelineServiceClient};
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, body::Body};

use super::raw_body;
use crate::harness::up;

/// Well past either timeout: what "cut off" must beat.
const WITHIN: Duration = Duration::from_secs(25);

/// Opens a connection, sends half a request head, and returns how long the
/// gateway took to close it (`WITHIN` if it did not).
async fn half_head(addr: &str) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /crm.pipeline.v1.PipelineService/ListPipelines HTTP/1.1\r\nHost: crm\r\nContent-Type: app")
        .await
        .unwrap();
    let mut buf = [0_u8; 1024];
    loop {
        match tokio::time::timeout_at((started + WITHIN).into(), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => return WITHIN,
        }
    }
}

async fn callers_that_never_finish_a_request_are_cut_off_and_others_are_served(backend: Backend) {
    let Some(suite) = up(backend, "hostile-slow").await else {
        return;
    };
    let addr = suite.url.trim_start_matches("http://").to_owned();
    let heads: Vec<_> = (0..100).map(|_| tokio::spawn(half_head_at(addr.clone()))).collect();
    // 100 calls on one HTTP/2 connection whose body never comes (each of
    // a tenant of its own, past every tenant's in-flight limit); the
    // senders are held, so a body neither ends nor fails by itself.
    let mut held = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..100 {
        let auth = vec![(
            "authorization",
            format!("Bearer {}", token(&format!("slow-{i}"), "ann", &["admin"])),
        )];
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, tonic::Status>>(1);
        held.push(tx);
        let channel = suite.channel.clone();
        bodies.push(tokio::spawn(async move {
            let started = Instant::now();
            let body = Body::new(StreamBody::new(ReceiverStream::new(rx)));
            let path = "/crm.pipeline.v1.PipelineService/GetPipeline";
            let a = tokio::time::timeout(WITHIN, raw_body(&channel, path, &auth, body)).await;
            (a.map(|a| a.code), started.elapsed())
        }));
    }
    // Meanwhile everyone else is served.
    let mut pipelines = PipelineServiceClient::new(crate::harness::wait_serving(&suite.url).await);
    let t = token("globex", "bob", &["admin"]);
    for _ in 0..20 {
        pipelines
            .list_pipelines(authed(&t, ListPipelinesRequest::default()))
            .await
            .expect("another caller is served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in heads {
        let took = h.await.unwrap();
        assert!(took < WITHIN, "a half-sent head was held open for {took:?}");
        assert!(
            took >= HEADER_READ_TIMEOUT - Duration::from_secs(1),
            "closed after {took:?}"
        );
    }
    for b in bodies {
        let (code, took) = b.await.unwrap();
        assert_eq!(
            code,
            Ok(Code::DeadlineExceeded),
            "a call without a body, after {took:?}"
        );
        assert!(
            took >= BODY_IDLE_TIMEOUT - Duration::from_secs(1),
            "ended after {took:?}"
        );
    }
    drop(held);
}

async fn half_head_at(addr: String) -> Duration {
    half_head(&addr).await
}

crm_kit::backend_tests!(callers_that_never_finish_a_request_are_cut_off_and_others_are_served);
