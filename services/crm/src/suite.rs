//! The embedded mode: every service on one listener, the in-process bus
//! between them.

use std::{future::Future, sync::Arc};

use crm_kit::{
    Shared,
    bus::local::{LocalBus, Subscription},
    db,
    server::Serve,
};
use crm_tasks::{
    automation::{Automation, BINDINGS, CONSUMER},
    reminders::{ReminderHub, Scheduler},
};
use sea_orm::EntityTrait;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::{Stop, local_url, serve_then_stop, spawn_relays};

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
    let shared = Shared::from_config(&config.auth)?;
    let contacts_db = db::connect_and_migrate::<crm_contacts::migration::Migrator>(&config.contacts_db).await?;
    let pipeline_db = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&config.pipeline_db).await?;
    let tasks_db = db::connect_and_migrate::<crm_tasks::migration::Migrator>(&config.tasks_db).await?;
    let analytics_db = db::connect_and_migrate::<crm_analytics::migration::Migrator>(&config.analytics_db).await?;
    // In one process analytics sees every pipeline event from the first on;
    // it has to catch up only when its file is new beside an older pipeline
    // one (marking a fresh suite would only make the first reads wait).
    let pipeline_has_data = crm_pipeline::entity::pipeline::Entity::find()
        .one(&pipeline_db)
        .await?
        .is_some();
    if pipeline_has_data && crm_analytics::catch_up::mark_if_empty(&analytics_db).await? {
        tracing::info!("analytics starts on an empty database: each tenant catches up from pipeline on its first read");
    }
    let inner = TcpListener::bind("127.0.0.1:0").await?;
    let self_url = local_url(inner.local_addr()?);

    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: CONSUMER.to_owned(),
        bindings: BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
        db: tasks_db.clone(),
        handler: Arc::new(Automation),
    });
    bus.subscribe(Subscription {
        consumer: crm_analytics::projection::CONSUMER.to_owned(),
        bindings: crm_analytics::projection::BINDINGS
            .iter()
            .map(|b| (*b).to_owned())
            .collect(),
        db: analytics_db.clone(),
        handler: Arc::new(crm_analytics::projection::Projector),
    });
    bus.subscribe(Subscription {
        consumer: crm_contacts::CONSUMER.to_owned(),
        bindings: vec![crm_kit::settings::BINDING.to_owned()],
        db: contacts_db.clone(),
        handler: Arc::new(crm_kit::settings::Follower),
    });
    let (stop_tx, stop) = Stop::new();
    spawn_relays(
        &[
            ("contacts", contacts_db.clone()),
            ("pipeline", pipeline_db.clone()),
            ("tasks", tasks_db.clone()),
        ],
        Arc::new(bus),
        &stop,
    );
    tokio::spawn(
        crm_pipeline::stalls::Scanner::new(pipeline_db.clone(), crate::STALL_SCAN_EVERY).run(stop.clone().wait()),
    );
    let hub = ReminderHub::new();
    tokio::spawn(Scheduler::new(tasks_db.clone(), hub.clone()).run(stop.clone().wait()));

    let contacts = crm_pipeline::ContactsDirectory::connect_lazy(&self_url)?;
    let pipelines = crm_tasks::PipelineDirectory::connect_lazy(&self_url)?;
    let source = crm_analytics::source::PipelineSource::connect_lazy(&self_url)?;
    let routes = Routes::new(crm_contacts::service(contacts_db.clone(), shared.clone()))
        .add_service(crm_pipeline::service(pipeline_db.clone(), shared.clone(), contacts))
        .add_service(crm_tasks::service(tasks_db.clone(), shared.clone(), pipelines, hub))
        .add_service(crm_analytics::service(analytics_db.clone(), shared, source));
    let what = Serve {
        routes,
        service_names: vec![
            crm_contacts::SERVICE_NAME,
            crm_pipeline::SERVICE_NAME,
            crm_tasks::SERVICE_NAME,
            crm_analytics::SERVICE_NAME,
        ],
        databases: vec![contacts_db, pipeline_db, tasks_db, analytics_db],
    };
    let (stopped_tx, stopped) = tokio::sync::oneshot::channel::<()>();
    let services = tokio::spawn(serve_then_stop(
        inner,
        what,
        async move {
            let _ = stopped.await;
        },
        stop_tx,
    ));
    let gateway = crate::serve_gateway(
        listener,
        &crm_gateway::GatewayConfig {
            limits: config.limits,
            ..crm_gateway::GatewayConfig::all_at(&self_url)
        },
        &config.auth,
        shutdown,
    )
    .await;
    let _ = stopped_tx.send(());
    services.await??;
    gateway
}
