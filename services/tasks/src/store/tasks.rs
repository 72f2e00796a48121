//! Tasks.

use crm_kit::{ApiError, ApiResult, tenant::Tenant};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    domain::{edits::reminder_offsets, listing::TaskFilter},
    entity::task,
    store::reminders,
};

/// The task `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<task::Model> {
    tenant
        .find::<task::Entity>()
        .filter(task::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("task", id))
}

/// Inserts a new task with its reminders.
pub async fn insert(conn: &impl ConnectionTrait, t: &task::Model) -> Result<(), DbErr> {
    task::Entity::insert(t.clone().into_active_model()).exec(conn).await?;
    reminders::replace(conn, t, &reminder_offsets(t)).await
}

/// Writes `next` over the task if it is still at `expected` (ABORTED
/// otherwise), and with `reschedule` its reminders anew.
pub async fn save(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    next: &task::Model,
    expected: i64,
    reschedule: bool,
) -> ApiResult<()> {
    tenant.save_model_guarded(conn, next, expected).await?;
    if reschedule {
        reminders::replace(conn, next, &reminder_offsets(next)).await?;
    }
    Ok(())
}

/// Deletes a task (if it is still at its version) with its reminders.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, t: &task::Model) -> ApiResult<()> {
    reminders::delete_for_task(conn, tenant, &t.id).await?;
    tenant.delete_guarded::<task::Entity>(conn, &t.id, t.version).await
}

/// The task a rule created for a trigger event, if any.
pub async fn find_by_trigger(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    rule_id: &str,
    event_id: &str,
) -> Result<Option<task::Model>, DbErr> {
    tenant
        .find::<task::Entity>()
        .filter(task::Column::RuleId.eq(rule_id))
        .filter(task::Column::TriggerEventId.eq(event_id))
        .one(conn)
        .await
}

/// The open tasks of `tenant` about a deal or a contact.
pub async fn open_about(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    column: task::Column,
    id: &str,
) -> Result<Vec<task::Model>, DbErr> {
    tenant
        .find::<task::Entity>()
        .filter(column.eq(id))
        .filter(task::Column::Status.eq("open"))
        .order_by_asc(task::Column::Id)
        .all(conn)
        .await
}

/// The condition of a ListTasks filter at `now` (every part optional,
/// combined with AND).
fn condition(f: &TaskFilter, now: i64) -> Condition {
    let mut c = Condition::all();
    if let Some(v) = &f.assignee_id {
        c = c.add(task::Column::AssigneeId.eq(v));
    }
    if let Some(v) = f.status {
        c = c.add(task::Column::Status.eq(v));
    }
    if let Some(v) = &f.deal_id {
        c = c.add(task::Column::DealId.eq(v));
    }
    if let Some(v) = &f.contact_id {
        c = c.add(task::Column::ContactId.eq(v));
    }
    if let Some(v) = f.due_after {
        c = c.add(task::Column::DueAt.gte(v));
    }
    if let Some(v) = f.due_before {
        c = c.add(task::Column::DueAt.lt(v));
    }
    if f.overdue_only {
        c = c.add(task::Column::Status.eq("open")).add(task::Column::DueAt.lt(now));
    }
    c
}

/// One page of tasks matching `filter`, soonest due first, after `(due_at, id)`.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    filter: &TaskFilter,
    now: i64,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<task::Model>, DbErr> {
    let mut q = tenant.find::<task::Entity>().filter(condition(filter, now));
    if let Some((due, id)) = after {
        q = q.filter(
            Condition::any().add(task::Column::DueAt.gt(*due)).add(
                Condition::all()
                    .add(task::Column::DueAt.eq(*due))
                    .add(task::Column::Id.gt(id)),
            ),
        );
    }
    q.order_by_asc(task::Column::DueAt)
        .order_by_asc(task::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
