//! The tonic service. Each RPC: the verified caller, the request parsed
//! into valid values, the pipeline's history read from the projections
//! (scoped to the caller's tenant), the definitions of [`crate::domain`].

mod analytics;
mod parse;
mod segments;

use std::sync::Arc;

use crm_kit::{Shared, handler::call_as};
use crm_proto::analytics::v1::{self as pb, analytics_service_server::AnalyticsService};
use crm_tenancy::Access;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::{cache::ReadModels, catch_up::CatchUp};

/// The AnalyticsService implementation.
#[derive(Clone, Debug)]
pub struct Analytics {
    db: DatabaseConnection,
    models: Arc<ReadModels>,
    catch_up: CatchUp,
    // Kept for symmetry with the other services (page tokens, verifier).
    _shared: Shared,
    pipelines: crate::source::PipelineSource,
}

impl Analytics {
    /// A service reading the projections in `db`.
    pub fn new(db: DatabaseConnection, shared: Shared, pipelines: crate::source::PipelineSource) -> Self {
        Self {
            models: Arc::new(ReadModels::new(db.clone())),
            catch_up: CatchUp::new(db.clone(), pipelines.clone(), shared.verifier.clone()),
            db,
            _shared: shared,
            pipelines,
        }
    }
}

#[tonic::async_trait]
impl AnalyticsService for Analytics {
    async fn get_funnel(&self, r: Request<pb::GetFunnelRequest>) -> Result<Response<pb::GetFunnelResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_funnel(c, m)).await
    }
    async fn get_stage_durations(
        &self,
        r: Request<pb::GetStageDurationsRequest>,
    ) -> Result<Response<pb::GetStageDurationsResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_stage_durations(c, m)).await
    }
    async fn get_forecast(
        &self,
        r: Request<pb::GetForecastRequest>,
    ) -> Result<Response<pb::GetForecastResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_forecast(c, m)).await
    }
    async fn get_velocity(
        &self,
        r: Request<pb::GetVelocityRequest>,
    ) -> Result<Response<pb::GetVelocityResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_velocity(c, m)).await
    }
    async fn get_bottlenecks(
        &self,
        r: Request<pb::GetBottlenecksRequest>,
    ) -> Result<Response<pb::GetBottlenecksResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_bottlenecks(c, m)).await
    }
    async fn get_owner_performance(
        &self,
        r: Request<pb::GetOwnerPerformanceRequest>,
    ) -> Result<Response<pb::GetOwnerPerformanceResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_owner_performance(c, m)).await
    }
    async fn rebuild_projections(
        &self,
        r: Request<pb::RebuildProjectionsRequest>,
    ) -> Result<Response<pb::RebuildProjectionsResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.rebuild_projections(c, m)).await
    }
}
