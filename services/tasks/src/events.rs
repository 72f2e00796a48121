//! Domain changes as `crm.events.v1` payloads, written to the outbox in the
//! change's own transaction: an event exists if and only if its change
//! committed. One typed writer per change; `aggregate_version` is the
//! record's version after the change (for a delete, the deleted version
//! plus one).

use crm_kit::{auth::Caller, outbox, tenant::Tenant};
use crm_proto::{events::v1 as ev, tasks::v1 as pb};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    convert,
    entity::{rule, task},
};

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

/// The identity the service writes events under when no user acted (the
/// automation and the scheduler): `actor` of `tenant`, with no token.
pub fn system_caller(tenant: &Tenant, actor: &str) -> Caller {
    Caller {
        user_id: actor.to_owned(),
        tenant_id: tenant.id(),
        roles: Vec::new(),
        token: String::new(),
    }
}

/// `tasks.task.created`; `trigger_event_id` names the event a rule fired
/// on (empty for a task created by hand).
pub async fn task_created(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    t: &task::Model,
    trigger_event_id: &str,
) -> Result<(), DbErr> {
    let payload = ev::TaskCreated {
        task: Some(convert::task(t)),
        trigger_event_id: trigger_event_id.to_owned(),
    };
    outbox::emit(conn, caller, types::TASK_CREATED, &t.id, t.version, &payload).await
}

/// `tasks.task.updated`, naming the changed fields.
pub async fn task_updated(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    t: &task::Model,
    changed_fields: Vec<String>,
) -> Result<(), DbErr> {
    let payload = ev::TaskUpdated {
        task: Some(convert::task(t)),
        changed_fields,
    };
    outbox::emit(conn, caller, types::TASK_UPDATED, &t.id, t.version, &payload).await
}

/// `tasks.task.completed`.
pub async fn task_completed(conn: &impl ConnectionTrait, caller: &Caller, t: &task::Model) -> Result<(), DbErr> {
    let payload = ev::TaskCompleted {
        task: Some(convert::task(t)),
    };
    outbox::emit(conn, caller, types::TASK_COMPLETED, &t.id, t.version, &payload).await
}

/// `tasks.task.cancelled`, saying why.
pub async fn task_cancelled(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    t: &task::Model,
    reason: &str,
) -> Result<(), DbErr> {
    let payload = ev::TaskCancelled {
        task: Some(convert::task(t)),
        reason: reason.to_owned(),
    };
    outbox::emit(conn, caller, types::TASK_CANCELLED, &t.id, t.version, &payload).await
}

/// `tasks.task.deleted`.
pub async fn task_deleted(conn: &impl ConnectionTrait, caller: &Caller, t: &task::Model) -> Result<(), DbErr> {
    let payload = ev::TaskDeleted { task_id: t.id.clone() };
    outbox::emit(conn, caller, types::TASK_DELETED, &t.id, t.version + 1, &payload).await
}

/// `tasks.task.overdue`, by the scheduler.
pub async fn task_overdue(conn: &impl ConnectionTrait, system: &Caller, t: &task::Model) -> Result<(), DbErr> {
    let payload = ev::TaskOverdue {
        task: Some(convert::task(t)),
    };
    outbox::emit(conn, system, types::TASK_OVERDUE, &t.id, t.version, &payload).await
}

/// `tasks.reminder.due`, by the scheduler: `reminder` of task `t` fell due.
pub async fn reminder_due(
    conn: &impl ConnectionTrait,
    system: &Caller,
    t: &task::Model,
    reminder: &pb::Reminder,
) -> Result<(), DbErr> {
    let payload = ev::ReminderDue {
        reminder: Some(reminder.clone()),
    };
    outbox::emit(conn, system, types::REMINDER_DUE, &t.id, t.version, &payload).await
}

/// `tasks.rule.created`.
pub async fn rule_created(conn: &impl ConnectionTrait, caller: &Caller, r: &rule::Model) -> Result<(), DbErr> {
    rule_changed(conn, caller, types::RULE_CREATED, r, r.version).await
}

/// `tasks.rule.updated`.
pub async fn rule_updated(conn: &impl ConnectionTrait, caller: &Caller, r: &rule::Model) -> Result<(), DbErr> {
    rule_changed(conn, caller, types::RULE_UPDATED, r, r.version).await
}

/// `tasks.rule.deleted`, carrying the rule as it was.
pub async fn rule_deleted(conn: &impl ConnectionTrait, caller: &Caller, r: &rule::Model) -> Result<(), DbErr> {
    rule_changed(conn, caller, types::RULE_DELETED, r, r.version + 1).await
}

async fn rule_changed(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    event_type: &'static str,
    r: &rule::Model,
    version: i64,
) -> Result<(), DbErr> {
    let payload = ev::RuleChanged {
        rule: Some(convert::rule(r)),
    };
    outbox::emit(conn, caller, event_type, &r.id, version, &payload).await
}
