//! Tasks.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entity::task;

/// The task `id` of `tenant`.
pub async fn find(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<Option<task::Model>, DbErr> {
    task::Entity::find_by_id(id)
        .filter(task::Column::TenantId.eq(tenant))
        .one(conn)
        .await
}

/// Inserts a new task.
pub async fn insert(conn: &impl ConnectionTrait, t: &task::Model) -> Result<(), DbErr> {
    task::Entity::insert(t.clone().into_active_model()).exec(conn).await?;
    Ok(())
}

/// Writes `next` over the task if it is still at `expected_version`; false
/// when a concurrent change got there first.
pub async fn update_guarded(
    conn: &impl ConnectionTrait,
    next: &task::Model,
    expected_version: i64,
) -> Result<bool, DbErr> {
    let active = next.clone().into_active_model().reset_all();
    let result = task::Entity::update_many()
        .set(active)
        .filter(task::Column::TenantId.eq(&next.tenant_id))
        .filter(task::Column::Id.eq(&next.id))
        .filter(task::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes a task.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<(), DbErr> {
    task::Entity::delete_many()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(task::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The task a rule created for a trigger event, if any.
pub async fn find_by_trigger(
    conn: &impl ConnectionTrait,
    tenant: &str,
    rule_id: &str,
    event_id: &str,
) -> Result<Option<task::Model>, DbErr> {
    task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(task::Column::RuleId.eq(rule_id))
        .filter(task::Column::TriggerEventId.eq(event_id))
        .one(conn)
        .await
}

/// The open tasks of `tenant` about a deal or a contact.
pub async fn open_about(
    conn: &impl ConnectionTrait,
    tenant: &str,
    column: task::Column,
    id: &str,
) -> Result<Vec<task::Model>, DbErr> {
    task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(column.eq(id))
        .filter(task::Column::Status.eq("open"))
        .order_by_asc(task::Column::Id)
        .all(conn)
        .await
}

/// The filters of ListTasks, all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Only this assignee.
    pub assignee_id: Option<String>,
    /// Only this status.
    pub status: Option<&'static str>,
    /// Only this deal.
    pub deal_id: Option<String>,
    /// Only this contact.
    pub contact_id: Option<String>,
    /// Due at or after (µs).
    pub due_after: Option<i64>,
    /// Due before (µs).
    pub due_before: Option<i64>,
    /// Only open tasks past due (at the time of the query).
    pub overdue_only: bool,
}

impl TaskFilter {
    /// A stable description of the filter, binding page tokens to it.
    pub fn fingerprint(&self) -> String {
        format!("tasks:{self:?}")
    }

    fn condition(&self, tenant: &str, now: i64) -> Condition {
        let mut c = Condition::all().add(task::Column::TenantId.eq(tenant));
        if let Some(v) = &self.assignee_id {
            c = c.add(task::Column::AssigneeId.eq(v));
        }
        if let Some(v) = self.status {
            c = c.add(task::Column::Status.eq(v));
        }
        if let Some(v) = &self.deal_id {
            c = c.add(task::Column::DealId.eq(v));
        }
        if let Some(v) = &self.contact_id {
            c = c.add(task::Column::ContactId.eq(v));
        }
        if let Some(v) = self.due_after {
            c = c.add(task::Column::DueAt.gte(v));
        }
        if let Some(v) = self.due_before {
            c = c.add(task::Column::DueAt.lt(v));
        }
        if self.overdue_only {
            c = c.add(task::Column::Status.eq("open")).add(task::Column::DueAt.lt(now));
        }
        c
    }
}

/// One page of tasks matching `filter`, soonest due first, after `(due_at, id)`.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &str,
    filter: &TaskFilter,
    now: i64,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<task::Model>, DbErr> {
    let mut q = task::Entity::find().filter(filter.condition(tenant, now));
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
