//! Reminder rows: written with their task, claimed by the scheduler.

use crm_kit::{tenant::Tenant, validate::new_id};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};

use crate::entity::{reminder, task};

/// Replaces the reminders of `t` with one row per offset of its list.
pub async fn replace(conn: &impl ConnectionTrait, t: &task::Model, before: &[i64]) -> Result<(), DbErr> {
    delete_for_task(conn, &Tenant::of_row(&t.tenant_id), &t.id).await?;
    if before.is_empty() {
        return Ok(());
    }
    let rows = before.iter().map(|b| reminder::ActiveModel {
        id: Set(new_id().to_string()),
        tenant_id: Set(t.tenant_id.clone()),
        task_id: Set(t.id.clone()),
        remind_at: Set(t.due_at.saturating_sub(*b)),
        fired_at: Set(None),
    });
    reminder::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Deletes the reminders of a task.
pub async fn delete_for_task(conn: &impl ConnectionTrait, tenant: &Tenant, task_id: &str) -> Result<(), DbErr> {
    tenant
        .delete::<reminder::Entity>()
        .filter(reminder::Column::TaskId.eq(task_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` unfired reminders due at `now`: on PostgreSQL the
/// rows are locked and rows another scheduler holds are skipped, so two
/// schedulers never claim the same reminder.
pub async fn claim_due(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<reminder::Model>, DbErr> {
    let mut q = reminder::Entity::find()
        .filter(reminder::Column::FiredAt.is_null())
        .filter(reminder::Column::RemindAt.lte(now))
        .order_by_asc(reminder::Column::RemindAt)
        .limit(limit);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    q.all(conn).await
}

/// Marks claimed reminders fired.
pub async fn mark_fired(conn: &impl ConnectionTrait, ids: Vec<String>, now: i64) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    reminder::Entity::update_many()
        .col_expr(reminder::Column::FiredAt, Expr::value(now))
        .filter(reminder::Column::Id.is_in(ids))
        .exec(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` open tasks past due whose overdue event was not
/// sent, locked like [`claim_due`].
pub async fn claim_overdue(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<task::Model>, DbErr> {
    let mut q = task::Entity::find()
        .filter(task::Column::Status.eq("open"))
        .filter(task::Column::DueAt.lte(now))
        .filter(task::Column::OverdueNotified.eq(false))
        .order_by_asc(task::Column::DueAt)
        .limit(limit);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    q.all(conn).await
}

/// Records that the overdue event of these tasks was sent.
pub async fn mark_overdue(conn: &impl ConnectionTrait, ids: Vec<String>) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    task::Entity::update_many()
        .col_expr(task::Column::OverdueNotified, Expr::value(true))
        .filter(task::Column::Id.is_in(ids))
        .exec(conn)
        .await?;
    Ok(())
}

/// The tasks with these ids (any tenant: the scheduler works for all).
pub async fn tasks_by_id(conn: &impl ConnectionTrait, ids: Vec<String>) -> Result<Vec<task::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    task::Entity::find().filter(task::Column::Id.is_in(ids)).all(conn).await
}
