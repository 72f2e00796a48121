//! The `crm` binary's library: how the suite is assembled, both as the
//! embedded all-in-one process (`crm up`) and as one service per process
//! (`crm serve <service>`). The end-to-end tests start the suite through
//! this library exactly as the binary does.
#![forbid(unsafe_code)]

pub mod cli;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use crm_kit::{
    Shared,
    bus::{
        Publisher,
        amqp::{AmqpConfig, AmqpPublisher},
        local::LocalBus,
        relay::Relay,
    },
    db,
    server::{self, Serve},
};
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, sync::watch};
use tonic::service::Routes;

/// Background work (outbox relays, consumers) stops when this flips.
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Starts one outbox relay per database, publishing through `publisher`.
fn spawn_relays(dbs: &[DatabaseConnection], publisher: Arc<dyn Publisher>, stop: &Stop) {
    for db in dbs {
        tokio::spawn(Relay::new(db.clone(), publisher.clone()).run(stop.clone().wait()));
    }
}

/// Serves `what` until `shutdown`, then stops the background work.
async fn serve_then_stop(
    listener: TcpListener,
    what: Serve,
    shutdown: impl Future<Output = ()>,
    stop: watch::Sender<bool>,
) -> anyhow::Result<()> {
    let result = server::serve(listener, what, shutdown).await;
    let _ = stop.send(true);
    result
}

/// The databases and secret of a suite.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// The contacts service's database URL.
    pub contacts_db: String,
    /// The pipeline service's database URL.
    pub pipeline_db: String,
    /// The HS256 token secret.
    pub secret: String,
}

/// The address a client on this machine reaches `listener` at (a wildcard
/// bind is reached over loopback).
pub fn local_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    format!("http://{host}:{}", addr.port())
}

/// Runs contacts and pipeline on one listener (the embedded mode) until
/// `shutdown` resolves. The pipeline reaches contacts over gRPC on the same
/// port, exactly as it would across processes.
pub async fn run_suite(
    listener: TcpListener,
    config: SuiteConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let shared = Shared::from_secret(config.secret.as_bytes());
    let contacts_db = db::connect_and_migrate::<crm_contacts::migration::Migrator>(&config.contacts_db).await?;
    let pipeline_db = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&config.pipeline_db).await?;
    let self_url = local_url(listener.local_addr()?);
    let directory = crm_pipeline::ContactsDirectory::connect_lazy(&self_url)?;
    // The in-process bus: each outbox row is marked sent once every local
    // consumer committed it.
    let bus = LocalBus::new();
    let (stop_tx, stop) = Stop::new();
    spawn_relays(&[contacts_db.clone(), pipeline_db.clone()], Arc::new(bus), &stop);
    let routes = Routes::new(crm_contacts::service(contacts_db.clone(), shared.clone()))
        .add_service(crm_pipeline::service(pipeline_db.clone(), shared, directory));
    let what = Serve {
        routes,
        service_names: vec![crm_contacts::SERVICE_NAME, crm_pipeline::SERVICE_NAME],
        databases: vec![contacts_db, pipeline_db],
    };
    serve_then_stop(listener, what, shutdown, stop_tx).await
}

/// One service of the suite, as `crm serve` runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    /// ContactsService.
    Contacts,
    /// PipelineService.
    Pipeline,
}

/// How one service process is configured.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Its database.
    pub database_url: String,
    /// Where ContactsService answers (for pipeline).
    pub contacts_url: String,
    /// The broker its outbox relay publishes to; without one, events wait
    /// in the outbox.
    pub amqp_url: Option<String>,
    /// The HS256 token secret.
    pub secret: String,
}

/// Runs one service alone on `listener` until `shutdown` resolves, with its
/// outbox relay publishing to RabbitMQ.
pub async fn run_service(
    service: ServiceName,
    listener: TcpListener,
    config: ServiceConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let ServiceConfig {
        database_url,
        contacts_url,
        amqp_url,
        secret,
    } = config;
    let (database_url, contacts_url) = (database_url.as_str(), contacts_url.as_str());
    let shared = Shared::from_secret(secret.as_bytes());
    let what = match service {
        ServiceName::Contacts => {
            let conn = db::connect_and_migrate::<crm_contacts::migration::Migrator>(database_url).await?;
            Serve {
                routes: Routes::new(crm_contacts::service(conn.clone(), shared)),
                service_names: vec![crm_contacts::SERVICE_NAME],
                databases: vec![conn],
            }
        }
        ServiceName::Pipeline => {
            let conn = db::connect_and_migrate::<crm_pipeline::migration::Migrator>(database_url).await?;
            let directory = crm_pipeline::ContactsDirectory::connect_lazy(contacts_url).context("CRM_CONTACTS_URL")?;
            Serve {
                routes: Routes::new(crm_pipeline::service(conn.clone(), shared, directory)),
                service_names: vec![crm_pipeline::SERVICE_NAME],
                databases: vec![conn],
            }
        }
    };
    let (stop_tx, stop) = Stop::new();
    match amqp_url {
        Some(url) => spawn_relays(
            &what.databases,
            Arc::new(AmqpPublisher::new(AmqpConfig::new(url))),
            &stop,
        ),
        None => tracing::warn!("CRM_AMQP_URL is not set: events stay in the outbox until a relay can publish them"),
    }
    serve_then_stop(listener, what, shutdown, stop_tx).await
}

/// Applies one service's migrations and exits.
pub async fn migrate(service: ServiceName, database_url: &str) -> anyhow::Result<()> {
    let conn = match service {
        ServiceName::Contacts => db::connect_and_migrate::<crm_contacts::migration::Migrator>(database_url).await?,
        ServiceName::Pipeline => db::connect_and_migrate::<crm_pipeline::migration::Migrator>(database_url).await?,
    };
    conn.close().await?;
    Ok(())
}
