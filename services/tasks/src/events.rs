//! Domain changes as `crm.events.v1` payloads, written to the outbox in the
//! change's own transaction.

use crm_kit::{
    auth::Caller,
    outbox::{self, Event},
};
use sea_orm::{ConnectionTrait, DbErr};

/// Writes one event about the task or rule `aggregate_id`.
pub async fn append<C: ConnectionTrait, P: prost::Message + prost::Name>(
    conn: &C,
    caller: &Caller,
    event_type: &'static str,
    aggregate_id: &str,
    version: i64,
    payload: &P,
) -> Result<(), DbErr> {
    outbox::append(
        conn,
        caller,
        Event {
            event_type,
            aggregate_id,
            aggregate_version: version,
            payload,
        },
    )
    .await
}

/// The identity the service writes events under when no user acted (the
/// automation and the scheduler): `actor` of `tenant`, with no token.
pub fn system_caller(tenant: &str, actor: &str) -> Caller {
    Caller {
        user_id: actor.to_owned(),
        tenant_id: tenant.to_owned(),
        roles: Vec::new(),
        token: String::new(),
    }
}

/// Routing keys of the tasks service's events.
pub mod types {
    /// A task was created.
    pub const TASK_CREATED: &str = "tasks.task.created";
    /// A task changed.
    pub const TASK_UPDATED: &str = "tasks.task.updated";
    /// A task was completed.
    pub const TASK_COMPLETED: &str = "tasks.task.completed";
    /// A task was cancelled.
    pub const TASK_CANCELLED: &str = "tasks.task.cancelled";
    /// A task was deleted.
    pub const TASK_DELETED: &str = "tasks.task.deleted";
    /// An open task passed its due time.
    pub const TASK_OVERDUE: &str = "tasks.task.overdue";
    /// A reminder fell due.
    pub const REMINDER_DUE: &str = "tasks.reminder.due";
    /// A rule was created.
    pub const RULE_CREATED: &str = "tasks.rule.created";
    /// A rule changed.
    pub const RULE_UPDATED: &str = "tasks.rule.updated";
    /// A rule was deleted.
    pub const RULE_DELETED: &str = "tasks.rule.deleted";
}
