//! The one way to build the analytics service: its gRPC service behind the
//! token check, its database, the projector consuming pipeline and contacts
//! events, and the change log's pruner. `crm serve analytics`, `crm up` and
//! the tests all run what [`build`] returns.

use std::sync::Arc;

use crm_kit::{
    Shared,
    startup::{Consumer, Job, Service, Work, bindings},
};
use crm_proto::analytics::v1::analytics_service_server::AnalyticsServiceServer;
use sea_orm::DatabaseConnection;
use tonic::service::interceptor::InterceptedService;

use crate::{
    SERVICE_NAME, catch_up,
    grpc::Analytics,
    projection::{BINDINGS, CONSUMER, Projector},
    pruning,
    source::PipelineSource,
};

/// Where the analytics service reads the pipeline's history from, and
/// whether it catches up when it starts empty.
#[derive(Clone, Debug)]
pub struct Config {
    /// PipelineService: catch-ups and RebuildProjections read its export.
    pub pipeline_url: String,
    /// Whether an empty database is marked to catch up, tenant by tenant on
    /// first read (the bus only brings what happens from now on). `crm up`
    /// sets it only when the pipeline's database already holds data.
    pub catch_up_if_empty: bool,
}

/// The analytics service on `db` (migrated), checking tokens with `shared`.
pub async fn build(db: DatabaseConnection, shared: Shared, config: Config) -> anyhow::Result<Service> {
    if config.catch_up_if_empty && catch_up::mark_if_empty(&db).await? {
        tracing::info!("analytics starts on an empty database: each tenant catches up from pipeline on its first read");
    }
    let source = PipelineSource::connect_lazy(&config.pipeline_url)?;
    let auth = shared.authenticate();
    let grpc = InterceptedService::new(
        AnalyticsServiceServer::new(Analytics::new(db.clone(), shared, source)),
        auth,
    );
    let pruned = db.clone();
    Ok(Service {
        name: SERVICE_NAME,
        mount: Box::new(move |routes| routes.add_service(grpc)),
        work: Work {
            label: "analytics",
            db,
            consumer: Some(Consumer {
                name: CONSUMER,
                bindings: bindings(BINDINGS),
                handler: Arc::new(Projector),
            }),
            listeners: Vec::new(),
            jobs: vec![Job::new("change-log pruner", move |stop| {
                pruning::run(pruned, pruning::PRUNE_EVERY, stop.wait())
            })],
        },
    })
}
