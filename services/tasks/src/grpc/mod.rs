//! The tonic service. Each RPC: the verified caller with the access it
//! needs ([`call_as`]), the request parsed into a domain value (bad input is
//! INVALID_ARGUMENT before anything is read or written), the domain's
//! decision applied in one transaction with its events, then the reply.
//! No business rule lives here: that is [`crate::domain`].

mod rules;
mod tasks;
mod watch;

use std::pin::Pin;

use crm_kit::{Shared, handler::call_as, peer::contacts::ContactsDirectory};
use crm_proto::tasks::v1::{self as pb, tasks_service_server::TasksService};
use crm_tenancy::Access;
use sea_orm::DatabaseConnection;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::{pipelines::PipelineDirectory, reminders::ReminderHub};

/// The TasksService implementation.
#[derive(Clone, Debug)]
pub struct Tasks {
    db: DatabaseConnection,
    shared: Shared,
    pipelines: PipelineDirectory,
    contacts: ContactsDirectory,
    hub: ReminderHub,
    settings: crm_tenancy::Settings,
}

impl Tasks {
    /// A service on `db` that checks rule triggers and tasks' deals with
    /// `pipelines`, tasks' contacts with `contacts`, and streams reminders
    /// from `hub`.
    pub fn new(
        db: DatabaseConnection,
        shared: Shared,
        pipelines: PipelineDirectory,
        contacts: ContactsDirectory,
        hub: ReminderHub,
        settings: crm_tenancy::Settings,
    ) -> Self {
        Self {
            db,
            shared,
            pipelines,
            contacts,
            hub,
            settings,
        }
    }
}

/// The stream of WatchReminders.
pub type ReminderStream = Pin<Box<dyn Stream<Item = Result<pb::WatchRemindersResponse, Status>> + Send>>;

#[tonic::async_trait]
impl TasksService for Tasks {
    type WatchRemindersStream = ReminderStream;

    async fn create_task(&self, r: Request<pb::CreateTaskRequest>) -> Result<Response<pb::CreateTaskResponse>, Status> {
        call_as(Access::Create, r, |c, m| self.create_task(c, m)).await
    }
    async fn get_task(&self, r: Request<pb::GetTaskRequest>) -> Result<Response<pb::GetTaskResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_task(c, m)).await
    }
    async fn update_task(&self, r: Request<pb::UpdateTaskRequest>) -> Result<Response<pb::UpdateTaskResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.update_task(c, m)).await
    }
    async fn complete_task(
        &self,
        r: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::CompleteTaskResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.complete_task(c, m)).await
    }
    async fn delete_task(&self, r: Request<pb::DeleteTaskRequest>) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        call_as(Access::Change, r, |c, m| self.delete_task(c, m)).await
    }
    async fn list_tasks(&self, r: Request<pb::ListTasksRequest>) -> Result<Response<pb::ListTasksResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_tasks(c, m)).await
    }
    async fn create_rule(&self, r: Request<pb::CreateRuleRequest>) -> Result<Response<pb::CreateRuleResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.create_rule(c, m)).await
    }
    async fn get_rule(&self, r: Request<pb::GetRuleRequest>) -> Result<Response<pb::GetRuleResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.get_rule(c, m)).await
    }
    async fn list_rules(&self, r: Request<pb::ListRulesRequest>) -> Result<Response<pb::ListRulesResponse>, Status> {
        call_as(Access::Read, r, |c, m| self.list_rules(c, m)).await
    }
    async fn update_rule(&self, r: Request<pb::UpdateRuleRequest>) -> Result<Response<pb::UpdateRuleResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.update_rule(c, m)).await
    }
    async fn delete_rule(&self, r: Request<pb::DeleteRuleRequest>) -> Result<Response<pb::DeleteRuleResponse>, Status> {
        call_as(Access::Configure, r, |c, m| self.delete_rule(c, m)).await
    }
    async fn watch_reminders(
        &self,
        r: Request<pb::WatchRemindersRequest>,
    ) -> Result<Response<Self::WatchRemindersStream>, Status> {
        call_as(Access::Read, r, |c, m| self.watch_reminders(c, m)).await
    }
}
