//! The tonic service. Each RPC: the verified caller with the access it
//! needs ([`call_as`]), the request parsed into a domain value (bad input is
//! INVALID_ARGUMENT before anything is read or written), the change applied
//! in one transaction with its events, then the reply. The resource
//! modules (companies, contacts, activities) hold the handlers.

mod activities;
mod companies;
mod contacts;
mod fields;

use crm_kit::{Shared, handler::call_as};
use crm_proto::contacts::v1::{self as pb, contacts_service_server::ContactsService};
use crm_tenancy::{Access, Settings};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

/// The ContactsService implementation over one database.
#[derive(Clone, Debug)]
pub struct Contacts {
    db: DatabaseConnection,
    shared: Shared,
    settings: Settings,
}

impl Contacts {
    /// The service over `db`, signing page tokens with `shared`, deciding
    /// visibility from `settings`.
    pub fn new(db: DatabaseConnection, shared: Shared, settings: Settings) -> Self {
        Self { db, shared, settings }
    }
}

#[tonic::async_trait]
impl ContactsService for Contacts {
    async fn create_company(
        &self,
        r: Request<pb::CreateCompanyRequest>,
    ) -> Result<Response<pb::CreateCompanyResponse>, Status> {
        call_as(Access::Create, r, |c, m| self.create_company(c, m)).await
    }
    async fn get_company(&self, r: Request<pb::GetCompanyRequest>) -> Result<Response<pb::GetCompanyResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_company(c, m)).await
    }
    async fn update_company(
        &self,
        r: Request<pb::UpdateCompanyRequest>,
    ) -> Result<Response<pb::UpdateCompanyResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.update_company(c, m)).await
    }
    async fn delete_company(
        &self,
        r: Request<pb::DeleteCompanyRequest>,
    ) -> Result<Response<pb::DeleteCompanyResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.delete_company(c, m)).await
    }
    async fn list_companies(
        &self,
        r: Request<pb::ListCompaniesRequest>,
    ) -> Result<Response<pb::ListCompaniesResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_companies(c, m)).await
    }
    async fn create_contact(
        &self,
        r: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::CreateContactResponse>, Status> {
        call_as(Access::Create, r, |c, m| self.create_contact(c, m)).await
    }
    async fn get_contact(&self, r: Request<pb::GetContactRequest>) -> Result<Response<pb::GetContactResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_contact(c, m)).await
    }
    async fn update_contact(
        &self,
        r: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.update_contact(c, m)).await
    }
    async fn delete_contact(
        &self,
        r: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.delete_contact(c, m)).await
    }
    async fn list_contacts(
        &self,
        r: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_contacts(c, m)).await
    }
    async fn merge_contacts(
        &self,
        r: Request<pb::MergeContactsRequest>,
    ) -> Result<Response<pb::MergeContactsResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.merge_contacts(c, m)).await
    }
    async fn log_activity(
        &self,
        r: Request<pb::LogActivityRequest>,
    ) -> Result<Response<pb::LogActivityResponse>, Status> {
        call_as(Access::Create, r, |c, m| self.log_activity(c, m)).await
    }
    async fn list_activities(
        &self,
        r: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_activities(c, m)).await
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
