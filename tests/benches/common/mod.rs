//! What the benchmarks share: their settings from the environment, the
//! runtime, the process's resident memory, a channel to a service that is
//! still starting, nearest-rank percentiles, and a pipeline with deals.
// Each benchmark uses part of it.
#![allow(dead_code)]

use std::{future::Future, str::FromStr, time::Duration};

use crm_kit::testing::authed;
use crm_proto::{
    common::v1::StageKind,
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use tonic::transport::{Channel, Endpoint};

/// The setting `name` from the environment, or `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `work` on a multi-threaded runtime, as `crm` does.
pub fn block_on<F: Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

/// This process's resident memory (VmRSS), in MiB.
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A connected channel to `url`, waiting up to 20 s for it to listen.
pub async fn connect(url: &str) -> Channel {
    for _ in 0..400 {
        if let Ok(c) = Endpoint::from_shared(url.to_owned()).unwrap().connect().await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} does not answer");
}

/// The nearest-rank `q` quantile of `sorted`, in ms (0 when it is empty).
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// A pipeline `name`, created with `token`, with `open` open stages (each at
/// 50 %), then Won and Lost.
pub async fn create_pipeline(channel: Channel, token: &str, name: &str, open: &[&str]) -> pb::Pipeline {
    let stage = |name: &str, kind: StageKind, probability: i32| pb::Stage {
        name: name.into(),
        kind: kind as i32,
        probability,
        ..Default::default()
    };
    let mut stages: Vec<_> = open.iter().map(|n| stage(n, StageKind::Open, 50)).collect();
    stages.extend([stage("Won", StageKind::Won, 0), stage("Lost", StageKind::Lost, 0)]);
    let pipeline = pb::Pipeline {
        name: name.into(),
        stages,
        ..Default::default()
    };
    let req = pb::CreatePipelineRequest {
        pipeline: Some(pipeline),
        request_id: String::new(),
    };
    let mut client = PipelineServiceClient::new(channel);
    let created = client.create_pipeline(authed(token, req)).await.unwrap();
    created.into_inner().pipeline.unwrap()
}

/// A deal `title` in its pipeline's first stage.
pub async fn create_deal(channel: Channel, token: &str, pipeline_id: &str, title: &str) -> pb::Deal {
    let deal = pb::Deal {
        pipeline_id: pipeline_id.to_owned(),
        title: title.to_owned(),
        ..Default::default()
    };
    let req = pb::CreateDealRequest {
        deal: Some(deal),
        request_id: String::new(),
    };
    let mut client = PipelineServiceClient::new(channel);
    let created = client.create_deal(authed(token, req)).await.unwrap();
    created.into_inner().deal.unwrap()
}
