//! The one way to build the contacts service: its gRPC service behind the
//! token check, its database, and its consumer, which keeps the tenant
//! settings it enforces visibility with (from the pipeline service's
//! events), and the purge of deleted custom fields' values. `crm serve
//! contacts`, `crm up` and the tests all run what [`build`] returns.

use std::sync::Arc;

use crm_fields::purge::Purger;
use crm_kit::{
    Shared,
    startup::{Consumer, Job, Service, Work, bindings},
};
use crm_proto::contacts::v1::contacts_service_server::ContactsServiceServer;
use sea_orm::DatabaseConnection;

use crate::{CONSUMER, SERVICE_NAME, events::CONTACT_FIELDS, grpc::Contacts};

/// The contacts service on `db` (migrated), checking tokens with `shared`.
pub fn build(db: DatabaseConnection, shared: Shared) -> Service {
    let authenticate = shared.authenticate();
    let settings = crm_tenancy::Settings::stored(crm_kit::db::readers(&db));
    let grpc = ContactsServiceServer::with_interceptor(Contacts::new(db.clone(), shared, settings), authenticate);
    let purger = Purger::new(db.clone(), CONTACT_FIELDS, crm_fields::purge::EVERY);
    Service {
        name: SERVICE_NAME,
        mount: Box::new(move |routes| routes.add_service(grpc)),
        work: Work {
            label: "contacts",
            db,
            consumer: Some(Consumer {
                name: CONSUMER,
                bindings: bindings(&[crm_tenancy::settings::BINDING]),
                handler: Arc::new(crm_tenancy::settings::Follower),
            }),
            listeners: Vec::new(),
            jobs: vec![Job::new("field purger", move |stop| purger.run(stop.wait()))],
        },
    }
}
