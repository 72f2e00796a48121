//! The one way to build the pipeline service: its gRPC service behind the
//! token check, its database, the stall scanner and the field purger; `crm serve pipeline`,
//! `crm up` and the tests all run what [`build`] returns. It consumes no
//! events (it owns the tenant settings that others follow).

use std::time::Duration;

use crm_fields::purge::Purger;
use crm_kit::{
    Shared,
    peer::contacts::ContactsDirectory,
    startup::{Job, Service, Work},
};
use crm_proto::pipeline::v1::pipeline_service_server::PipelineServiceServer;
use sea_orm::DatabaseConnection;
use tonic::service::interceptor::InterceptedService;

use crate::{SERVICE_NAME, events::DEAL_FIELDS, grpc::Pipelines, stalls::Scanner};

/// How often the scanner looks for deals that outstayed their stage.
pub const STALL_SCAN_EVERY: Duration = Duration::from_secs(60);

/// Where the pipeline service finds its peers, and its timings.
#[derive(Clone, Debug)]
pub struct Config {
    /// ContactsService, asked whether a deal's contact and company exist.
    pub contacts_url: String,
    /// How often the stall scanner runs.
    pub stall_scan_every: Duration,
}

impl Config {
    /// The defaults, with ContactsService at `contacts_url`.
    pub fn new(contacts_url: impl Into<String>) -> Self {
        Self {
            contacts_url: contacts_url.into(),
            stall_scan_every: STALL_SCAN_EVERY,
        }
    }
}

/// The pipeline service on `db` (migrated), checking tokens with `shared`.
pub fn build(db: DatabaseConnection, shared: Shared, config: Config) -> anyhow::Result<Service> {
    let contacts = ContactsDirectory::connect_lazy(&config.contacts_url)?;
    let auth = shared.authenticate();
    let grpc = InterceptedService::new(
        PipelineServiceServer::new(Pipelines::new(db.clone(), shared, contacts)),
        auth,
    );
    let scanner = Scanner::new(db.clone(), config.stall_scan_every);
    let purger = Purger::new(db.clone(), DEAL_FIELDS, crm_fields::purge::EVERY);
    Ok(Service {
        name: SERVICE_NAME,
        mount: Box::new(move |routes| routes.add_service(grpc)),
        work: Work {
            label: "pipeline",
            db,
            consumer: None,
            listeners: Vec::new(),
            jobs: vec![
                Job::new("stall scanner", move |stop| scanner.run(stop.wait())),
                Job::new("field purger", move |stop| purger.run(stop.wait())),
            ],
        },
    })
}
