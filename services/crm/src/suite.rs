//! The embedded mode: every service on one listener, the in-process bus
//! between them, each built by its crate's `startup::build` exactly as
//! `crm serve` builds it.

use std::future::Future;

use crm_kit::{
    Shared,
    bus::local::LocalBus,
    db,
    startup::{Service, Stop, start_in_process},
};
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::net::TcpListener;

use crate::run::{local_url, serve_gateway, serve_then_stop};
/// The databases and secret of a suite.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// The contacts service's database URL.
    pub contacts_db: String,
    /// The pipeline service's database URL.
    pub pipeline_db: String,
    /// The tasks service's database URL.
    pub tasks_db: String,
    /// The analytics service's database URL.
    pub analytics_db: String,
    /// How tokens are verified.
    pub auth: crm_kit::auth::AuthConfig,
    /// The gateway's per-tenant limits.
    pub limits: crm_gateway::limits::LimitConfig,
}

/// Runs contacts, pipeline, tasks and analytics behind the gateway on one
/// listener until `shutdown` resolves. The services answer on a loopback
/// port of their own, where they also reach each other over gRPC exactly as
/// they would across processes; callers reach them through the gateway.
/// Events flow through the in-process bus: an outbox row is marked sent
/// once every local consumer committed it.
pub async fn run_suite(
    listener: TcpListener,
    config: SuiteConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let inner = TcpListener::bind("127.0.0.1:0").await?;
    let self_url = local_url(inner.local_addr()?);
    let services = build(&config, &self_url).await?;
    let (stop_switch, stop) = Stop::new();
    let (serve, works) = Service::serve_all(services);
    start_in_process(works, &LocalBus::new(), &stop);
    let (stopped_tx, stopped) = tokio::sync::oneshot::channel::<()>();
    let services = tokio::spawn(serve_then_stop(
        inner,
        serve,
        async move {
            let _ = stopped.await;
        },
        stop_switch,
    ));
    let gateway_config = crm_gateway::GatewayConfig {
        limits: config.limits,
        ..crm_gateway::GatewayConfig::all_at(&self_url)
    };
    let gateway = serve_gateway(listener, &gateway_config, &config.auth, shutdown).await;
    let _ = stopped_tx.send(());
    services.await??;
    gateway
}

/// The four services on their databases, each reaching the others at `self_url`.
async fn build(config: &SuiteConfig, self_url: &str) -> anyhow::Result<Vec<Service>> {
    let shared = Shared::from_config(&config.auth)?;
    let contacts_db = db::connect_and_migrate::<crm_contacts::migration::Migrator>(&config.contacts_db).await?;
    let pipeline_db = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&config.pipeline_db).await?;
    let tasks_db = db::connect_and_migrate::<crm_tasks::migration::Migrator>(&config.tasks_db).await?;
    let analytics_db = db::connect_and_migrate::<crm_analytics::migration::Migrator>(&config.analytics_db).await?;
    // In one process analytics sees every pipeline event from the first on;
    // it has to catch up only when its file is new beside an older pipeline
    // one (marking a fresh suite would only make the first reads wait).
    let catch_up_if_empty = has_pipelines(&pipeline_db).await?;
    let tasks = crm_tasks::startup::Config::new(self_url, self_url, crm_tasks::startup::Announce::Directly);
    let analytics = crm_analytics::startup::Config {
        pipeline_url: self_url.to_owned(),
        catch_up_if_empty,
    };
    Ok(vec![
        crm_contacts::startup::build(contacts_db, shared.clone()),
        crm_pipeline::startup::build(
            pipeline_db,
            shared.clone(),
            crm_pipeline::startup::Config::new(self_url),
        )?,
        crm_tasks::startup::build(tasks_db, shared.clone(), tasks)?,
        crm_analytics::startup::build(analytics_db, shared, analytics).await?,
    ])
}

/// Whether the pipeline database holds any pipeline yet.
async fn has_pipelines(db: &DatabaseConnection) -> anyhow::Result<bool> {
    Ok(crm_pipeline::entity::pipeline::Entity::find().one(db).await?.is_some())
}
