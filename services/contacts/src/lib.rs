//! The contacts service: companies, the contacts who work for them, and the
//! timeline of activities (calls, emails, meetings, notes) with them.
//!
//! It owns the `companies`, `contacts`, `contact_emails`, `contact_tags` and
//! `activities` tables (plus the kit's outbox and idempotency keys), and
//! announces every change as a `crm.events.v1` event through the outbox.
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod convert;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod store;

use crm_proto::contacts::v1::contacts_service_server::ContactsServiceServer;
use tonic::service::interceptor::InterceptedService;

/// The fully-qualified gRPC name of the service, for health and routing.
pub const SERVICE_NAME: &str = "crm.contacts.v1.ContactsService";

/// The consumer name (inbox key and queue) of the contacts service: it
/// follows the tenant settings' events.
pub const CONSUMER: &str = "contacts";

/// The tonic service over `db`, behind the bearer-token interceptor.
pub fn service(
    db: sea_orm::DatabaseConnection,
    shared: crm_kit::Shared,
) -> InterceptedService<ContactsServiceServer<grpc::Contacts>, crm_kit::auth::Authenticate> {
    let authenticate = shared.authenticate();
    ContactsServiceServer::with_interceptor(grpc::Contacts::new(db, shared), authenticate)
}
