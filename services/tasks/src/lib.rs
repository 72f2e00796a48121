//! The tasks service: it owns follow-up tasks, their reminders and the
//! automation rules that create tasks when deals move, and answers
//! `crm.tasks.v1.TasksService`. Each change writes its `crm.events.v1`
//! events to the service's outbox in the same transaction.
//!
//! Besides the gRPC service, the crate exports the bus [`automation`]
//! handler (pipeline and contacts events in, tasks out) and the
//! [`reminders`] scheduler that fires due reminders and streams them to
//! `WatchReminders`.
#![forbid(unsafe_code)]

pub mod automation;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod pipelines;
pub mod reminders;
pub mod store;

use crm_kit::{Shared, auth::Authenticate};
use crm_proto::tasks::v1::tasks_service_server::TasksServiceServer;
use tonic::service::interceptor::InterceptedService;

pub use crate::pipelines::PipelineDirectory;
use crate::reminders::ReminderHub;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.tasks.v1.TasksService";

/// The TasksService on `db`, behind token authentication; `WatchReminders`
/// streams what the [`reminders::Scheduler`] sends to `hub`.
pub fn service(
    db: sea_orm::DatabaseConnection,
    shared: Shared,
    pipelines: PipelineDirectory,
    hub: ReminderHub,
) -> InterceptedService<TasksServiceServer<grpc::Tasks>, Authenticate> {
    let auth = shared.authenticate();
    InterceptedService::new(
        TasksServiceServer::new(grpc::Tasks::new(db, shared, pipelines, hub)),
        auth,
    )
}
