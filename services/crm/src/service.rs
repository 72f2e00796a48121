//! One service per process (`crm serve <service>`): its own database, its
//! outbox relay publishing to RabbitMQ, its consumer and listeners on
//! RabbitMQ, and its background jobs: whatever its `startup::build` returns.

use std::{future::Future, time::Duration};

use anyhow::Context;
use crm_kit::{
    Shared,
    bus::amqp::{AmqpConfig, declare_consumers},
    db,
    startup::{Service, Stop},
};
use tokio::net::TcpListener;

use crate::run::{serve_gateway, serve_then_stop};

/// Every consumer of the suite with its bindings: the queues each service
/// declares before it publishes (see `declare_consumers`).
const CONSUMERS: [(&str, &[&str]); 3] = [
    (crm_contacts::CONSUMER, &[crm_tenancy::settings::BINDING]),
    (crm_tasks::automation::CONSUMER, crm_tasks::automation::BINDINGS),
    (crm_analytics::projection::CONSUMER, crm_analytics::projection::BINDINGS),
];
/// One service of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    /// ContactsService.
    Contacts,
    /// PipelineService.
    Pipeline,
    /// TasksService, its event consumer and its reminder scheduler.
    Tasks,
    /// AnalyticsService and its event consumer.
    Analytics,
    /// The gateway: the one public port in front of the four services.
    Gateway,
}

/// How one service process is configured.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Its database.
    pub database_url: String,
    /// Where ContactsService answers (for pipeline and tasks).
    pub contacts_url: String,
    /// Where PipelineService answers (for tasks, analytics and the gateway).
    pub pipeline_url: String,
    /// Where TasksService answers (for the gateway).
    pub tasks_url: String,
    /// Where AnalyticsService answers (for the gateway).
    pub analytics_url: String,
    /// The broker: the outbox relay publishes to it and the consumers read
    /// from it. Without one, events wait in the outbox (and a service that
    /// consumes events cannot run).
    pub amqp: Option<AmqpConfig>,
    /// How tokens are verified.
    pub auth: crm_kit::auth::AuthConfig,
    /// The gateway's per-tenant limits (for the gateway).
    pub limits: crm_gateway::limits::LimitConfig,
}

impl ServiceConfig {
    /// A service on `database_url` (empty for the gateway) verifying tokens
    /// by `auth`, with no peers, no broker and the default limits: name the
    /// rest with struct update syntax.
    pub fn new(database_url: impl Into<String>, auth: crm_kit::auth::AuthConfig) -> Self {
        Self {
            database_url: database_url.into(),
            contacts_url: String::new(),
            pipeline_url: String::new(),
            tasks_url: String::new(),
            analytics_url: String::new(),
            amqp: None,
            auth,
            limits: crm_gateway::limits::LimitConfig::default(),
        }
    }
}

/// Runs one service alone on `listener` until `shutdown` resolves.
pub async fn run_service(
    service: ServiceName,
    listener: TcpListener,
    config: ServiceConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if service == ServiceName::Gateway {
        return run_gateway(listener, &config, shutdown).await;
    }
    let built = build(service, &config).await?;
    let (stop_switch, stop) = Stop::new();
    let (serve, mut works) = Service::serve_all(vec![built]);
    let Some(work) = works.pop() else {
        anyhow::bail!("{service:?} was built without its work");
    };
    match &config.amqp {
        Some(amqp) => {
            // Every consumer's queue exists before this service publishes.
            let declared = declare_consumers(amqp, &CONSUMERS, Duration::from_secs(30)).await;
            if let Err(e) = declared {
                tracing::warn!(error = %e, "the broker is unreachable: the relay retries until it is back");
            }
            let relay_db = db::background(&config.database_url, &work.db).await?;
            work.start_on_broker(amqp, relay_db, &stop);
        }
        None if work.consumer.is_some() => {
            anyhow::bail!("`crm serve {}` consumes events: set CRM_AMQP_URL", work.label)
        }
        None => {
            tracing::warn!("CRM_AMQP_URL is not set: events stay in the outbox until a relay can publish them");
            let mut work = work;
            work.spawn_jobs(&stop);
        }
    }
    serve_then_stop(listener, serve, shutdown, stop_switch).await
}

/// `service` on its database (migrated), as its crate builds it.
async fn build(service: ServiceName, config: &ServiceConfig) -> anyhow::Result<Service> {
    let shared = Shared::from_config(&config.auth)?;
    let url = config.database_url.as_str();
    Ok(match service {
        ServiceName::Contacts => {
            let conn = db::connect_and_migrate::<crm_contacts::migration::Migrator>(url).await?;
            crm_contacts::startup::build(conn, shared)
        }
        ServiceName::Pipeline => {
            let conn = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(url).await?;
            let peers = crm_pipeline::startup::Config::new(&config.contacts_url);
            crm_pipeline::startup::build(conn, shared, peers).context("CRM_CONTACTS_URL")?
        }
        ServiceName::Tasks => {
            use crm_tasks::startup::{Announce, Config};
            let conn = db::connect_and_migrate::<crm_tasks::migration::Migrator>(url).await?;
            // Every replica's watchers hear every reminder, whichever replica
            // fired it: the hub is fed from the reminder events on the bus.
            let peers = Config::new(&config.pipeline_url, &config.contacts_url, Announce::ThroughTheBus);
            crm_tasks::startup::build(conn, shared, peers).context("CRM_PIPELINE_URL or CRM_CONTACTS_URL")?
        }
        ServiceName::Analytics => {
            let conn = db::connect_and_migrate::<crm_analytics::migration::Migrator>(url).await?;
            let peers = crm_analytics::startup::Config {
                pipeline_url: config.pipeline_url.clone(),
                catch_up_if_empty: true,
            };
            crm_analytics::startup::build(conn, shared, peers)
                .await
                .context("CRM_PIPELINE_URL")?
        }
        ServiceName::Gateway => anyhow::bail!("the gateway is not a service with a database"),
    })
}

/// Runs the gateway in front of the services at `config`'s URLs.
async fn run_gateway(
    listener: TcpListener,
    config: &ServiceConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let gateway_config = crm_gateway::GatewayConfig {
        backends: crm_gateway::SERVICES
            .iter()
            .zip([
                &config.contacts_url,
                &config.pipeline_url,
                &config.tasks_url,
                &config.analytics_url,
            ])
            .map(|(service, url)| ((*service).to_owned(), url.clone()))
            .collect(),
        limits: config.limits,
        ..crm_gateway::GatewayConfig::all_at("")
    };
    serve_gateway(listener, &gateway_config, &config.auth, shutdown).await
}

/// Applies one service's migrations and exits.
pub async fn migrate(service: ServiceName, database_url: &str) -> anyhow::Result<()> {
    let conn = match service {
        ServiceName::Contacts => db::connect_and_migrate::<crm_contacts::migration::Migrator>(database_url).await?,
        ServiceName::Pipeline => db::connect_and_migrate::<crm_pipeline::migration::Migrator>(database_url).await?,
        ServiceName::Tasks => db::connect_and_migrate::<crm_tasks::migration::Migrator>(database_url).await?,
        ServiceName::Analytics => db::connect_and_migrate::<crm_analytics::migration::Migrator>(database_url).await?,
        ServiceName::Gateway => anyhow::bail!("the gateway has no database"),
    };
    conn.close().await?;
    Ok(())
}
