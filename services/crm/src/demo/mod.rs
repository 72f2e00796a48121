//! `crm demo`: a demo tenant with a year of realistic, seeded history (a
//! pipeline of five open stages, a few thousand deals with stage-dependent
//! conversion and dwell times, and a clear bottleneck at Demo), imported
//! through ImportDeals; then the report a sales manager would read, from
//! the analytics service.

pub mod data;
mod report;

use std::time::{Duration, Instant};

use anyhow::Context;
use crm_kit::auth::TokenVerifier;
use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use tonic::{Request, transport::Channel};

pub use self::report::{Report, period};

/// What `crm demo` does.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where the suite answers (`crm up`, or a gateway).
    pub addr: String,
    /// The demo tenant.
    pub tenant: String,
    /// How many deals to generate.
    pub deals: usize,
    /// The generator's seed: the same seed gives the same data set.
    pub seed: u64,
    /// The token secret, to mint the demo admin's token.
    pub secret: String,
}

/// Generates, imports, waits for analytics to catch up, and reports.
pub async fn run(opts: &DemoOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let channel = tonic::transport::Endpoint::from_shared(opts.addr.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", opts.addr))?;
    let token = TokenVerifier::hs256(opts.secret.as_bytes()).mint(&opts.tenant, "demo-admin", &["admin"], 3600);
    let mut pipeline = PipelineServiceClient::new(channel.clone());
    let created = pipeline
        .create_pipeline(authed(&token, data::pipeline(&data::DEMO, "Demo sales")))
        .await
        .context("creating the demo pipeline")?;
    let p = created.into_inner().pipeline.context("no pipeline in the reply")?;
    for definition in data::fields() {
        let req = pb::CreateFieldDefinitionRequest {
            definition: Some(definition),
            request_id: String::new(),
        };
        pipeline
            .create_field_definition(authed(&token, req))
            .await
            .context("defining the demo's deal fields")?;
    }
    let now = crm_kit::time::now_micros();
    let mut deals = data::deals(&p, opts.deals, opts.seed, now);
    data::set_fields(&mut deals, opts.seed);
    let imported = import_all(&mut pipeline, &token, deals).await?;
    let mut analytics = AnalyticsServiceClient::new(channel);
    wait_for_analytics(&mut analytics, &token, &p.id, imported.imported, now).await?;
    let mut report = report::gather(&mut analytics, &token, &p, now, opts.seed).await?;
    report.imported = imported.imported;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Waits (up to 50 s) until the analytics projections hold every imported deal.
async fn wait_for_analytics(
    client: &mut AnalyticsServiceClient<Channel>,
    token: &str,
    pipeline_id: &str,
    imported: i64,
    now: i64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(50);
    loop {
        let req = a::GetOwnerPerformanceRequest {
            pipeline_id: pipeline_id.into(),
            owner_id: String::new(),
            period: report::period(now - 400 * report::DAY, now + report::DAY),
            ..Default::default()
        };
        if let Ok(reply) = client.get_owner_performance(authed(token, req)).await {
            let seen: i64 = reply
                .into_inner()
                .owners
                .iter()
                .map(|o| o.won_count + o.lost_count + o.open_count)
                .sum();
            if seen >= imported {
                return Ok(());
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "analytics did not catch up with the import within 50 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Imports `deals` through ImportDeals in one stream; an error unless
/// every deal was taken.
pub(crate) async fn import_all(
    pipeline: &mut PipelineServiceClient<Channel>,
    token: &str,
    deals: Vec<pb::ImportDealsRequest>,
) -> anyhow::Result<pb::ImportDealsResponse> {
    let imported = pipeline
        .import_deals(authed(token, tokio_stream::iter(deals)))
        .await
        .context("importing")?
        .into_inner();
    anyhow::ensure!(
        imported.rejected == 0,
        "the import rejected {} deals: {:?}",
        imported.rejected,
        imported.errors.first()
    );
    Ok(imported)
}

/// `msg` with the bearer token.
pub(crate) fn authed<T>(token: &str, msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    if let Ok(value) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", value);
    }
    req
}

/// Keeps the pipeline types in one place for the submodules.
pub type Pipeline = pb::Pipeline;
