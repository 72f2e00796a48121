//! The analytics service: it keeps its own projections of pipeline and
//! contacts events (stages, deal snapshots, stage transitions, activities)
//! and answers `crm.analytics.v1.AnalyticsService` from them: the funnel,
//! time in stage, velocity, bottlenecks, owner performance and the forecast.
//!
//! Besides the gRPC service, the crate exports the bus [`projection`]
//! handler that keeps the projections, and its [`migration`]s.
#![forbid(unsafe_code)]

pub mod cache;
pub mod catch_up;
pub mod domain;
pub mod entity;
pub mod grpc;
pub mod migration;
pub mod projection;
pub mod rebuild;
pub mod source;
pub mod store;

use crm_kit::{Shared, auth::Authenticate};
use crm_proto::analytics::v1::analytics_service_server::AnalyticsServiceServer;
use tonic::service::interceptor::InterceptedService;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.analytics.v1.AnalyticsService";

/// The AnalyticsService on `db`, behind token authentication.
pub fn service(
    db: sea_orm::DatabaseConnection,
    shared: Shared,
    pipelines: source::PipelineSource,
) -> InterceptedService<AnalyticsServiceServer<grpc::Analytics>, Authenticate> {
    let auth = shared.authenticate();
    InterceptedService::new(
        AnalyticsServiceServer::new(grpc::Analytics::new(db, shared, pipelines)),
        auth,
    )
}
