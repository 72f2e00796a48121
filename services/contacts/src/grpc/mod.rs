//! The tonic service. Each RPC takes the verified caller, hands the request
//! to its resource module (companies, contacts, activities), and turns the
//! result into a reply or a `Status` through the kit's one error mapping.

mod activities;
mod companies;
mod contacts;

use crm_kit::{ApiResult, Shared, auth};
use crm_proto::contacts::v1::{self as pb, contacts_service_server::ContactsService};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

/// The ContactsService implementation over one database.
#[derive(Clone, Debug)]
pub struct Contacts {
    db: DatabaseConnection,
    shared: Shared,
}

impl Contacts {
    /// The service over `db`, signing page tokens with `shared`.
    pub fn new(db: DatabaseConnection, shared: Shared) -> Self {
        Self { db, shared }
    }
}

fn reply<T>(result: ApiResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

/// Calls `$handler(service, caller, message)` for request `$req`, once the
/// caller's roles allow `$access`.
macro_rules! handle {
    ($self:ident, $req:ident, $access:ident, $handler:path) => {{
        let caller = auth::caller(&$req)?;
        caller.require(auth::Access::$access)?;
        reply($handler($self, &caller, $req.into_inner()).await)
    }};
}

#[tonic::async_trait]
impl ContactsService for Contacts {
    async fn create_company(
        &self,
        req: Request<pb::CreateCompanyRequest>,
    ) -> Result<Response<pb::CreateCompanyResponse>, Status> {
        handle!(self, req, Create, companies::create)
    }

    async fn get_company(
        &self,
        req: Request<pb::GetCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        handle!(self, req, Read, companies::get)
    }

    async fn update_company(
        &self,
        req: Request<pb::UpdateCompanyRequest>,
    ) -> Result<Response<pb::UpdateCompanyResponse>, Status> {
        handle!(self, req, Change, companies::update)
    }

    async fn delete_company(
        &self,
        req: Request<pb::DeleteCompanyRequest>,
    ) -> Result<Response<pb::DeleteCompanyResponse>, Status> {
        handle!(self, req, Change, companies::delete)
    }

    async fn list_companies(
        &self,
        req: Request<pb::ListCompaniesRequest>,
    ) -> Result<Response<pb::ListCompaniesResponse>, Status> {
        handle!(self, req, Read, companies::list)
    }

    async fn create_contact(
        &self,
        req: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::CreateContactResponse>, Status> {
        handle!(self, req, Create, contacts::create)
    }

    async fn get_contact(
        &self,
        req: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::GetContactResponse>, Status> {
        handle!(self, req, Read, contacts::get)
    }

    async fn update_contact(
        &self,
        req: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        handle!(self, req, Change, contacts::update)
    }

    async fn delete_contact(
        &self,
        req: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        handle!(self, req, Change, contacts::delete)
    }

    async fn list_contacts(
        &self,
        req: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        handle!(self, req, Read, contacts::list)
    }

    async fn merge_contacts(
        &self,
        req: Request<pb::MergeContactsRequest>,
    ) -> Result<Response<pb::MergeContactsResponse>, Status> {
        handle!(self, req, Change, contacts::merge)
    }

    async fn log_activity(
        &self,
        req: Request<pb::LogActivityRequest>,
    ) -> Result<Response<pb::LogActivityResponse>, Status> {
        handle!(self, req, Create, activities::log)
    }

    async fn list_activities(
        &self,
        req: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        handle!(self, req, Read, activities::list)
    }
}
