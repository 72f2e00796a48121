//! `crm bench`: a load generator for the everyday calls. Against any
//! address that answers PipelineService (`crm up`, `crm serve pipeline`,
//! a gateway), it seeds a tenant of its own with a pipeline and deals,
//! then runs each call alone for a while at a number of connections and
//! concurrent streams, then a mix of them, and prints throughput,
//! latency percentiles and errors by gRPC code. Beside them, measured in
//! the same run: the stack's floor (`grpc.health.v1.Health/Check` through
//! the same path) and, given the pipeline's PostgreSQL database, what
//! PostgreSQL itself does with the same SQL shapes (pgbench), as ratios.
//!
//! Moves and updates need the deal's current etag: each stream owns its
//! own share of the deals and keeps their etags from the last reply, so
//! two streams never race for one deal.

mod pgbench;
mod report;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use crm_analytics::domain::rng::SplitMix64;
use crm_kit::auth::TokenVerifier;
use crm_proto::{
    common::v1::{DealStatus, Money, StageKind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use prost_types::FieldMask;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

pub use self::report::Report;
use crate::demo::{authed, data::ts};

/// One kind of call the generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Call {
    /// GetDeal of a random seeded deal.
    Get,
    /// ListDeals: a page of 50 of one stage.
    List,
    /// CreateDeal in the bench pipeline.
    Create,
    /// UpdateDeal of the title, with the deal's etag.
    Update,
    /// MoveDeal to the next open stage, with the deal's etag.
    Move,
    /// Get 50%, list 10%, create 10%, update 15%, move 15%.
    Mix,
}

impl Call {
    /// The RPC's name as the report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Call::Get => "GetDeal",
            Call::List => "ListDeals",
            Call::Create => "CreateDeal",
            Call::Update => "UpdateDeal",
            Call::Move => "MoveDeal",
            Call::Mix => "mix",
        }
    }
}

/// What `crm bench` does.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Where PipelineService answers.
    pub addr: String,
    /// HTTP/2 connections the streams spread over.
    pub connections: usize,
    /// Calls in flight at once, over all connections.
    pub streams: usize,
    /// How long each call runs.
    pub duration: Duration,
    /// Deals seeded before the calls start.
    pub deals: usize,
    /// The calls to run, in order.
    pub calls: Vec<Call>,
    /// The pipeline's PostgreSQL database, for the pgbench comparison.
    pub database_url: Option<String>,
    /// Whether to measure Health/Check (the floor).
    pub floor: bool,
    /// The token secret, to mint the bench user's token.
    pub secret: String,
    /// The tenant the bench seeds and calls as (a fresh one by default).
    pub tenant: String,
}

/// What one run of one call measured.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Every call's latency in microseconds, sorted once the run ends.
    pub latencies: Vec<u32>,
    /// Calls that failed, by gRPC code.
    pub errors: BTreeMap<String, u64>,
    /// How long the run lasted.
    pub elapsed: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
    }

    /// Calls that succeeded.
    pub fn ok(&self) -> u64 {
        self.latencies.len() as u64 - self.errors.values().sum::<u64>()
    }

    /// Successful calls per second.
    pub fn per_second(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        f64::from(self.latencies[i]) / 1000.0
    }
}

/// A seeded deal a stream owns: its id, its current etag and stage.
#[derive(Clone, Debug)]
struct Owned {
    id: String,
    etag: String,
    stage: usize,
}

/// The bench tenant's pipeline: its id and its open stages in order.
#[derive(Clone, Debug)]
struct Seeded {
    pipeline_id: String,
    open: Vec<String>,
}

/// Seeds, runs every call, measures the floor and pgbench, and reports.
pub async fn run(opts: &BenchOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(opts.streams >= 1, "--streams must be at least 1");
    anyhow::ensure!(
        opts.deals >= opts.streams,
        "--deals ({}) must be at least --streams ({}): each stream changes deals of its own",
        opts.deals,
        opts.streams
    );
    anyhow::ensure!(
        !opts.tenant.is_empty()
            && opts.tenant.len() <= 64
            && opts
                .tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "--tenant must be 1 to 64 letters, digits, '-' or '_'"
    );
    let mut channels = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        let channel = tonic::transport::Endpoint::from_shared(opts.addr.clone())?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", opts.addr))?;
        channels.push(channel);
    }
    let token = TokenVerifier::hs256(opts.secret.as_bytes()).mint(&opts.tenant, "bench", &["admin"], 24 * 3600);
    let seeded_at = Instant::now();
    let (seeded, deals) = seed(&channels[0], &token, opts.deals).await?;
    let mut report = Report::new(opts, seeded_at.elapsed());
    let sample: Vec<String> = deals.iter().take(100).map(|d| d.id.clone()).collect();
    // Each stream owns every streams-th deal.
    let mut shares: Vec<Vec<Owned>> = vec![Vec::new(); opts.streams];
    for (i, d) in deals.into_iter().enumerate() {
        shares[i % opts.streams].push(d);
    }
    if opts.floor {
        let tally = load(&channels, opts, |_, channel| {
            let health = HealthClient::new(channel);
            move || {
                let req = HealthCheckRequest { service: String::new() };
                let mut health = health.clone();
                async move { health.check(req).await.map(|_| ()).map_err(|s| s.code()) }
            }
        })
        .await;
        report.floor = Some(tally);
    }
    for &call in &opts.calls {
        let tally = run_call(&channels, opts, call, &token, &seeded, &mut shares).await;
        report.calls.push((call, tally));
    }
    if let Some(url) = &opts.database_url {
        report.pgbench = pgbench::run(url, opts, &seeded.pipeline_id, &seeded.open, &sample).await?;
    }
    Ok(report)
}

/// Runs `call` from every stream for the options' duration.
async fn run_call(
    channels: &[Channel],
    opts: &BenchOptions,
    call: Call,
    token: &str,
    seeded: &Seeded,
    shares: &mut [Vec<Owned>],
) -> Tally {
    let deadline = Instant::now() + opts.duration;
    let mut handles = Vec::with_capacity(opts.streams);
    for (i, share) in shares.iter_mut().enumerate() {
        let client = PipelineServiceClient::new(channels[i % channels.len()].clone());
        let mut stream = Stream {
            client,
            token: token.to_owned(),
            seeded: seeded.clone(),
            deals: std::mem::take(share),
            rng: SplitMix64::new(0x5eed ^ i as u64),
            created: 0,
        };
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let kind = match call {
                    Call::Mix => stream.pick(),
                    other => other,
                };
                let started = Instant::now();
                let result = stream.call(kind).await;
                let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                tally.latencies.push(micros);
                if let Err(code) = result {
                    *tally.errors.entry(format!("{code:?}")).or_default() += 1;
                }
            }
            (tally, stream.deals)
        }));
    }
    let started = Instant::now();
    let mut total = Tally::default();
    for (i, handle) in handles.into_iter().enumerate() {
        if let Ok((tally, deals)) = handle.await {
            total.merge(tally);
            shares[i] = deals;
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

/// Runs the calls `make` builds (one maker per stream) for the duration.
async fn load<M, F, Fut>(channels: &[Channel], opts: &BenchOptions, make: M) -> Tally
where
    M: Fn(usize, Channel) -> F,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Code>> + Send,
{
    let deadline = Instant::now() + opts.duration;
    let mut handles = Vec::with_capacity(opts.streams);
    for i in 0..opts.streams {
        let mut next = make(i, channels[i % channels.len()].clone());
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                let result = next().await;
                tally
                    .latencies
                    .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                if let Err(code) = result {
                    *tally.errors.entry(format!("{code:?}")).or_default() += 1;
                }
            }
            tally
        }));
    }
    let started = Instant::now();
    let mut total = Tally::default();
    for handle in handles {
        if let Ok(tally) = handle.await {
            total.merge(tally);
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

/// One stream's state: its client, its deals and their etags.
struct Stream {
    client: PipelineServiceClient<Channel>,
    token: String,
    seeded: Seeded,
    deals: Vec<Owned>,
    rng: SplitMix64,
    created: u64,
}

impl Stream {
    fn pick(&mut self) -> Call {
        match self.rng.next_u64() % 100 {
            0..50 => Call::Get,
            50..60 => Call::List,
            60..70 => Call::Create,
            70..85 => Call::Update,
            _ => Call::Move,
        }
    }

    fn deal_index(&mut self) -> Option<usize> {
        (!self.deals.is_empty()).then(|| (self.rng.next_u64() % self.deals.len() as u64) as usize)
    }

    async fn call(&mut self, call: Call) -> Result<(), Code> {
        let token = self.token.clone();
        match call {
            Call::Get | Call::Mix => {
                let i = self.deal_index().ok_or(Code::FailedPrecondition)?;
                let req = pb::GetDealRequest {
                    id: self.deals[i].id.clone(),
                };
                self.client.get_deal(authed(&token, req)).await.map_err(|s| s.code())?;
            }
            Call::List => {
                let stage = (self.rng.next_u64() % self.seeded.open.len() as u64) as usize;
                let req = pb::ListDealsRequest {
                    page_size: 50,
                    pipeline_id: self.seeded.pipeline_id.clone(),
                    stage_id: self.seeded.open[stage].clone(),
                    ..Default::default()
                };
                self.client
                    .list_deals(authed(&token, req))
                    .await
                    .map_err(|s| s.code())?;
            }
            Call::Create => {
                self.created += 1;
                let req = pb::CreateDealRequest {
                    deal: Some(new_deal(&self.seeded.pipeline_id, self.created)),
                    request_id: String::new(),
                };
                self.client
                    .create_deal(authed(&token, req))
                    .await
                    .map_err(|s| s.code())?;
            }
            Call::Update => {
                let i = self.deal_index().ok_or(Code::FailedPrecondition)?;
                let d = &self.deals[i];
                let req = pb::UpdateDealRequest {
                    deal: Some(pb::Deal {
                        id: d.id.clone(),
                        etag: d.etag.clone(),
                        title: format!("Bench deal {}", self.rng.next_u64() % 100_000),
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["title".into()],
                    }),
                };
                let reply = self.client.update_deal(authed(&token, req)).await;
                self.keep(i, reply.map(|r| r.into_inner().deal)).await?;
            }
            Call::Move => {
                let i = self.deal_index().ok_or(Code::FailedPrecondition)?;
                let d = &self.deals[i];
                let to = (d.stage + 1) % self.seeded.open.len();
                let req = pb::MoveDealRequest {
                    deal_id: d.id.clone(),
                    stage_id: self.seeded.open[to].clone(),
                    etag: d.etag.clone(),
                    lost_reason: String::new(),
                };
                let reply = self.client.move_deal(authed(&token, req)).await;
                self.keep(i, reply.map(|r| r.into_inner().deal)).await?;
            }
        }
        Ok(())
    }

    /// Keeps the deal's new etag and stage from a reply; on ABORTED (the
    /// deal changed elsewhere) reads it again so the next change can go.
    async fn keep(&mut self, i: usize, reply: Result<Option<pb::Deal>, tonic::Status>) -> Result<(), Code> {
        let deal = match reply {
            Ok(deal) => deal,
            Err(status) if status.code() == Code::Aborted => {
                let req = pb::GetDealRequest {
                    id: self.deals[i].id.clone(),
                };
                let fresh = self.client.get_deal(authed(&self.token, req)).await;
                if let Ok(fresh) = fresh {
                    self.remember(i, fresh.into_inner().deal);
                }
                return Err(Code::Aborted);
            }
            Err(status) => return Err(status.code()),
        };
        self.remember(i, deal);
        Ok(())
    }

    fn remember(&mut self, i: usize, deal: Option<pb::Deal>) {
        let Some(deal) = deal else { return };
        let d = &mut self.deals[i];
        d.etag = deal.etag;
        if let Some(stage) = self.seeded.open.iter().position(|s| *s == deal.stage_id) {
            d.stage = stage;
        }
    }
}

/// A new deal for CreateDeal.
fn new_deal(pipeline_id: &str, n: u64) -> pb::Deal {
    pb::Deal {
        pipeline_id: pipeline_id.to_owned(),
        title: format!("Bench new deal {n}"),
        amount: Some(eur(1_000 + (n % 100) as i64 * 10)),
        ..Default::default()
    }
}

fn eur(units: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        units,
        nanos: 0,
    }
}

/// The bench pipeline (four open stages, won, lost) and `n` deals spread
/// over the open stages, imported in one stream; then every deal's etag.
async fn seed(channel: &Channel, token: &str, n: usize) -> anyhow::Result<(Seeded, Vec<Owned>)> {
    let mut client = PipelineServiceClient::new(channel.clone());
    let stage = |name: &str, kind: StageKind, probability: i32| pb::Stage {
        name: name.into(),
        kind: kind as i32,
        probability,
        ..Default::default()
    };
    let create = pb::CreatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            name: "Bench".into(),
            stages: vec![
                stage("Lead", StageKind::Open, 10),
                stage("Qualified", StageKind::Open, 30),
                stage("Demo", StageKind::Open, 50),
                stage("Proposal", StageKind::Open, 70),
                stage("Won", StageKind::Won, 100),
                stage("Lost", StageKind::Lost, 0),
            ],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let p = client
        .create_pipeline(authed(token, create))
        .await
        .context("creating the bench pipeline")?
        .into_inner()
        .pipeline
        .context("no pipeline in the reply")?;
    let open: Vec<String> = p.stages.iter().take(4).map(|s| s.id.clone()).collect();
    let now = crm_kit::time::now_micros();
    let deals: Vec<pb::ImportDealsRequest> = (0..n)
        .map(|i| {
            let created = now - (i as i64 + 1) * 60_000_000;
            pb::ImportDealsRequest {
                pipeline_id: p.id.clone(),
                title: format!("Bench deal {i}"),
                amount: Some(eur(1_000 + (i % 50) as i64 * 100)),
                owner_id: "bench".into(),
                create_time: ts(created),
                history: vec![pb::HistoryEntry {
                    stage_id: open[i % open.len()].clone(),
                    entered_at: ts(created),
                }],
                ..Default::default()
            }
        })
        .collect();
    crate::demo::import_all(&mut client, token, deals)
        .await
        .context("seeding the bench deals")?;
    let mut owned = Vec::with_capacity(n);
    let mut page_token = String::new();
    loop {
        let req = pb::ListDealsRequest {
            page_size: 500,
            page_token: page_token.clone(),
            pipeline_id: p.id.clone(),
            status: DealStatus::Open as i32,
            ..Default::default()
        };
        let page = client
            .list_deals(authed(token, req))
            .await
            .context("listing the bench deals")?
            .into_inner();
        for d in page.deals {
            let stage = open.iter().position(|s| *s == d.stage_id).unwrap_or(0);
            owned.push(Owned {
                id: d.id,
                etag: d.etag,
                stage,
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let seeded = Seeded {
        pipeline_id: p.id,
        open,
    };
    Ok((seeded, owned))
}
