//! The pipeline service: it owns pipelines, their stages, deals and every
//! deal's stage history, and answers `crm.pipeline.v1.PipelineService`.
//! Each change writes its `crm.events.v1` events to the service's outbox in
//! the same transaction.
#![forbid(unsafe_code)]

pub mod contacts;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod stalls;
pub mod store;

use crm_kit::{Shared, auth::Authenticate};
use crm_proto::pipeline::v1::pipeline_service_server::PipelineServiceServer;
use tonic::service::interceptor::InterceptedService;

pub use crate::contacts::ContactsDirectory;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.pipeline.v1.PipelineService";

/// The PipelineService on `db`, behind token authentication.
pub fn service(
    db: sea_orm::DatabaseConnection,
    shared: Shared,
    contacts: ContactsDirectory,
) -> InterceptedService<PipelineServiceServer<grpc::Pipelines>, Authenticate> {
    let auth = shared.authenticate();
    InterceptedService::new(
        PipelineServiceServer::new(grpc::Pipelines::new(db, shared, contacts)),
        auth,
    )
}
