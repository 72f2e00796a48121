//! One service per process (`crm serve <service>`): its own database, its
//! outbox relay publishing to RabbitMQ, and for tasks its consumer and its
//! reminder scheduler.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use crm_kit::{
    Shared,
    bus::amqp::{AmqpConfig, AmqpConsumer, AmqpPublisher},
    db,
    server::Serve,
};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::{Stop, serve_then_stop, spawn_relays};

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
    /// Where ContactsService answers (for pipeline).
    pub contacts_url: String,
    /// Where PipelineService answers (for tasks, analytics and the gateway).
    pub pipeline_url: String,
    /// Where TasksService answers (for the gateway).
    pub tasks_url: String,
    /// Where AnalyticsService answers (for the gateway).
    pub analytics_url: String,
    /// The broker: the outbox relay publishes to it and tasks consumes from
    /// it. Without one, events wait in the outbox (and tasks cannot run).
    pub amqp: Option<AmqpConfig>,
    /// How tokens are verified.
    pub auth: crm_kit::auth::AuthConfig,
    /// The gateway's per-tenant limits (for the gateway).
    pub limits: crm_gateway::limits::LimitConfig,
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
    let shared = Shared::from_config(&config.auth)?;
    let (stop_tx, stop) = Stop::new();
    let url = config.database_url.as_str();
    let what = match service {
        ServiceName::Contacts => {
            let amqp = config
                .amqp
                .clone()
                .context("`crm serve contacts` follows the tenant settings' events: set CRM_AMQP_URL")?;
            let conn = db::connect_and_migrate::<crm_contacts::migration::Migrator>(url).await?;
            let consumer = AmqpConsumer::new(amqp, crm_contacts::CONSUMER, &[crm_kit::settings::BINDING]);
            tokio::spawn(consumer.run(conn.clone(), Arc::new(crm_kit::settings::Follower), stop.clone().wait()));
            Serve {
                routes: Routes::new(crm_contacts::service(conn.clone(), shared)),
                service_names: vec![crm_contacts::SERVICE_NAME],
                databases: vec![conn],
            }
        }
        ServiceName::Pipeline => {
            let conn = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(url).await?;
            let contacts =
                crm_pipeline::ContactsDirectory::connect_lazy(&config.contacts_url).context("CRM_CONTACTS_URL")?;
            let scanner = crm_pipeline::stalls::Scanner::new(conn.clone(), crate::STALL_SCAN_EVERY);
            tokio::spawn(scanner.run(stop.clone().wait()));
            Serve {
                routes: Routes::new(crm_pipeline::service(conn.clone(), shared, contacts)),
                service_names: vec![crm_pipeline::SERVICE_NAME],
                databases: vec![conn],
            }
        }
        ServiceName::Tasks => {
            let amqp = config
                .amqp
                .clone()
                .context("`crm serve tasks` consumes events: set CRM_AMQP_URL")?;
            let conn = db::connect_and_migrate::<crm_tasks::migration::Migrator>(url).await?;
            let pipelines =
                crm_tasks::PipelineDirectory::connect_lazy(&config.pipeline_url).context("CRM_PIPELINE_URL")?;
            let consumer = AmqpConsumer::new(
                amqp.clone(),
                crm_tasks::automation::CONSUMER,
                crm_tasks::automation::BINDINGS,
            );
            tokio::spawn(consumer.run(
                conn.clone(),
                Arc::new(crm_tasks::automation::Automation),
                stop.clone().wait(),
            ));
            // Every replica's watchers hear every reminder, whichever replica
            // fired it: the hub is fed from the reminder events on the bus.
            let hub = crm_tasks::reminders::ReminderHub::new();
            let hears = hub.clone();
            tokio::spawn(crm_kit::bus::fanout::run(
                amqp,
                vec![crm_tasks::events::types::REMINDER_DUE.to_owned()],
                move |envelope| hears.hear(&envelope),
                stop.clone().wait(),
            ));
            let scheduler =
                crm_tasks::reminders::Scheduler::new(conn.clone(), hub.clone()).announcing_through_the_bus();
            tokio::spawn(scheduler.run(stop.clone().wait()));
            Serve {
                routes: Routes::new(crm_tasks::service(conn.clone(), shared, pipelines, hub)),
                service_names: vec![crm_tasks::SERVICE_NAME],
                databases: vec![conn],
            }
        }
        ServiceName::Gateway => unreachable!("the gateway was served above"),
        ServiceName::Analytics => {
            use crm_analytics::projection::{BINDINGS, CONSUMER, Projector};
            let amqp = config
                .amqp
                .clone()
                .context("`crm serve analytics` consumes events: set CRM_AMQP_URL")?;
            let conn = db::connect_and_migrate::<crm_analytics::migration::Migrator>(url).await?;
            if crm_analytics::catch_up::mark_if_empty(&conn).await? {
                tracing::info!(
                    "analytics starts on an empty database: each tenant catches up from pipeline on its first read"
                );
            }
            let source = crm_analytics::source::PipelineSource::connect_lazy(&config.pipeline_url)
                .context("CRM_PIPELINE_URL")?;
            let consumer = AmqpConsumer::new(amqp, CONSUMER, BINDINGS);
            tokio::spawn(consumer.run(conn.clone(), Arc::new(Projector), stop.clone().wait()));
            Serve {
                routes: Routes::new(crm_analytics::service(conn.clone(), shared, source)),
                service_names: vec![crm_analytics::SERVICE_NAME],
                databases: vec![conn],
            }
        }
    };
    match config.amqp {
        Some(amqp) => {
            // The relay has connections of its own: a burst of requests
            // holding the service's pool does not hold its events back.
            let mut relay_dbs = Vec::with_capacity(what.databases.len());
            for (name, main) in what.service_names.iter().zip(&what.databases) {
                let service = crm_kit::metrics::service_label(name).unwrap_or(name);
                relay_dbs.push((service, db::background(url, main).await?));
            }
            spawn_relays(&relay_dbs, Arc::new(AmqpPublisher::new(amqp)), &stop);
        }
        None => tracing::warn!("CRM_AMQP_URL is not set: events stay in the outbox until a relay can publish them"),
    }
    serve_then_stop(listener, what, shutdown, stop_tx).await
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
    crate::serve_gateway(listener, &gateway_config, &config.auth, shutdown).await
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
