//! The tonic service. Each RPC: the verified caller with the access it
//! needs ([`call_as`]), the request parsed into a domain value (bad input is
//! INVALID_ARGUMENT before anything is read or written), the domain's
//! decision applied in one transaction with its events, then the reply.
//! No business rule lives here: that is [`crate::domain`].

mod board;
mod deals;
mod export;
mod fields;
mod import;
mod moves;
mod pipelines;
mod settings;

use crm_kit::{Shared, handler::call_as, peer::contacts::ContactsDirectory};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_server::PipelineService};
use crm_tenancy::Access;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::store::cached::Cached;

/// The PipelineService implementation.
#[derive(Clone, Debug)]
pub struct Pipelines {
    /// Writes, and the reads inside their transactions.
    db: DatabaseConnection,
    /// Reads outside transactions, and what they keep in memory.
    cached: Cached,
    shared: Shared,
    contacts: ContactsDirectory,
}

impl Pipelines {
    /// A service on `db` that checks references with `contacts`.
    pub fn new(db: DatabaseConnection, shared: Shared, contacts: ContactsDirectory) -> Self {
        let cached = Cached::new(crm_kit::db::readers(&db));
        Self {
            db,
            cached,
            shared,
            contacts,
        }
    }

    fn reads(&self) -> &DatabaseConnection {
        self.cached.reads()
    }

    /// What `caller` may read, from the settings as stored now (for the
    /// calls whose own queries do not read the settings' version).
    async fn scope_now(&self, caller: &crm_kit::auth::Caller) -> crm_kit::ApiResult<crm_tenancy::Scope> {
        let settings = crm_tenancy::settings::get(self.reads(), &crm_kit::tenant::Tenant::of(caller)).await?;
        Ok(crm_tenancy::Scope::under(caller, &settings))
    }
}

#[tonic::async_trait]
impl PipelineService for Pipelines {
    async fn create_pipeline(
        &self,
        r: Request<pb::CreatePipelineRequest>,
    ) -> Result<Response<pb::CreatePipelineResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.create_pipeline(c, m)).await
    }
    async fn get_pipeline(
        &self,
        r: Request<pb::GetPipelineRequest>,
    ) -> Result<Response<pb::GetPipelineResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_pipeline(c, m)).await
    }
    async fn list_pipelines(
        &self,
        r: Request<pb::ListPipelinesRequest>,
    ) -> Result<Response<pb::ListPipelinesResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_pipelines(c, m)).await
    }
    async fn update_pipeline(
        &self,
        r: Request<pb::UpdatePipelineRequest>,
    ) -> Result<Response<pb::UpdatePipelineResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.update_pipeline(c, m)).await
    }
    async fn delete_pipeline(
        &self,
        r: Request<pb::DeletePipelineRequest>,
    ) -> Result<Response<pb::DeletePipelineResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.delete_pipeline(c, m)).await
    }
    async fn create_deal(&self, r: Request<pb::CreateDealRequest>) -> Result<Response<pb::CreateDealResponse>, Status> {
        call_as(Access::Create, r, |c, m| self.create_deal(c, m)).await
    }
    async fn get_deal(&self, r: Request<pb::GetDealRequest>) -> Result<Response<pb::GetDealResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_deal(c, m)).await
    }
    async fn update_deal(&self, r: Request<pb::UpdateDealRequest>) -> Result<Response<pb::UpdateDealResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.update_deal(c, m)).await
    }
    async fn delete_deal(&self, r: Request<pb::DeleteDealRequest>) -> Result<Response<pb::DeleteDealResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.delete_deal(c, m)).await
    }
    async fn list_deals(&self, r: Request<pb::ListDealsRequest>) -> Result<Response<pb::ListDealsResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_deals(c, m)).await
    }
    async fn move_deal(&self, r: Request<pb::MoveDealRequest>) -> Result<Response<pb::MoveDealResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.move_deal(c, m)).await
    }
    async fn list_deal_history(
        &self,
        r: Request<pb::ListDealHistoryRequest>,
    ) -> Result<Response<pb::ListDealHistoryResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_deal_history(c, m)).await
    }
    type ExportDealsStream = export::ExportStream;

    async fn export_deals(
        &self,
        r: Request<pb::ExportDealsRequest>,
    ) -> Result<Response<Self::ExportDealsStream>, Status> {
        call_as(Access::Export, r, |c, m| self.export_deals(c, m)).await
    }

    async fn import_deals(
        &self,
        r: Request<tonic::Streaming<pb::ImportDealsRequest>>,
    ) -> Result<Response<pb::ImportDealsResponse>, Status> {
        call_as(Access::Import, r, |c, m| self.import_deals(c, m)).await
    }

    async fn get_tenant_settings(
        &self,
        r: Request<pb::GetTenantSettingsRequest>,
    ) -> Result<Response<pb::GetTenantSettingsResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_tenant_settings(c, m)).await
    }

    async fn update_tenant_settings(
        &self,
        r: Request<pb::UpdateTenantSettingsRequest>,
    ) -> Result<Response<pb::UpdateTenantSettingsResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.update_tenant_settings(c, m)).await
    }

    async fn get_board(&self, r: Request<pb::GetBoardRequest>) -> Result<Response<pb::GetBoardResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_board(c, m)).await
    }

    async fn get_purchase_summary(
        &self,
        r: Request<pb::GetPurchaseSummaryRequest>,
    ) -> Result<Response<pb::GetPurchaseSummaryResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_purchase_summary(c, m)).await
    }

    async fn create_field_definition(
        &self,
        r: Request<pb::CreateFieldDefinitionRequest>,
    ) -> Result<Response<pb::CreateFieldDefinitionResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.create_field_definition(c, m)).await
    }

    async fn get_field_definition(
        &self,
        r: Request<pb::GetFieldDefinitionRequest>,
    ) -> Result<Response<pb::GetFieldDefinitionResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_field_definition(c, m)).await
    }

    async fn list_field_definitions(
        &self,
        r: Request<pb::ListFieldDefinitionsRequest>,
    ) -> Result<Response<pb::ListFieldDefinitionsResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_field_definitions(c, m)).await
    }

    async fn update_field_definition(
        &self,
        r: Request<pb::UpdateFieldDefinitionRequest>,
    ) -> Result<Response<pb::UpdateFieldDefinitionResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.update_field_definition(c, m)).await
    }

    async fn archive_field_definition(
        &self,
        r: Request<pb::ArchiveFieldDefinitionRequest>,
    ) -> Result<Response<pb::ArchiveFieldDefinitionResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.archive_field_definition(c, m)).await
    }

    async fn delete_field_definition(
        &self,
        r: Request<pb::DeleteFieldDefinitionRequest>,
    ) -> Result<Response<pb::DeleteFieldDefinitionResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.delete_field_definition(c, m)).await
    }
}
