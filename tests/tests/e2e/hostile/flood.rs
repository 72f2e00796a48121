//! One tenant's flood, with its own limits raised far past the gateway's
//! capacity: 1,200 calls held open at once over 4 connections. The gateway
//! lets through at most half of its capacity of them (the tenant's share
//! while it is alone), refuses the rest at once, and another tenant's calls
//! meanwhile all succeed.

use std::time::Duration;

use bytes::Bytes;
use crm_gateway::limits::LimitConfig;
use crm_kit::testing::{Backend, authed, token};
use crm_proto::pipeline::v1::{ListPipelinesRequest, pipeline_service_client::PipelineServiceClient};
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, body::Body};

use super::raw_body;
use crate::harness::{up_with, wait_serving};

const CAPACITY: usize = 256;

async fn a_flood_from_one_tenant_leaves_room_for_the_next(backend: Backend) {
    let raised = LimitConfig {
        rate: 1e6,
        burst: 1e6,
        in_flight: 100_000,
        capacity: CAPACITY,
    };
    let Some(suite) = up_with(backend, "hostile-flood", raised).await else {
        return;
    };
    let auth = vec![("authorization", format!("Bearer {}", token("acme", "ann", &["admin"])))];
    let mut held = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let channel = wait_serving(&suite.url).await;
        for _ in 0..300 {
            // A call whose body stays open: it holds its place until the
            // gateway ends it (10 s without a byte).
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, tonic::Status>>(1);
            held.push(tx);
            let (channel, auth) = (channel.clone(), auth.clone());
            calls.push(tokio::spawn(async move {
                let body = Body::new(StreamBody::new(ReceiverStream::new(rx)));
                raw_body(&channel, "/crm.pipeline.v1.PipelineService/GetPipeline", &auth, body)
                    .await
                    .code
            }));
        }
    }
    // Let the flood arrive, then another tenant calls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut bob = PipelineServiceClient::new(wait_serving(&suite.url).await);
    let t = token("globex", "bob", &["admin"]);
    let mut served = 0;
    for _ in 0..100 {
        let reply = bob.list_pipelines(authed(&t, ListPipelinesRequest::default())).await;
        served += usize::from(reply.is_ok());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(served, 100, "every call of the tenant next to the flood succeeds");
    drop(held);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for c in calls {
        *codes.entry(format!("{:?}", c.await.unwrap())).or_default() += 1;
    }
    let refused = codes.get("ResourceExhausted").copied().unwrap_or(0);
    assert!(
        refused >= 1200 - CAPACITY / 2,
        "the flood got at most half the capacity: {codes:?}"
    );
    assert_eq!(codes.get(&format!("{:?}", Code::Internal)), None, "{codes:?}");
}

crm_kit::backend_tests!(a_flood_from_one_tenant_leaves_room_for_the_next);
