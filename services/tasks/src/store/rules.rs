//! Rules, and the round-robin cursor.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{domain::rule::TriggerKind, entity::rule};

/// The rule `id` of `tenant`.
pub async fn find(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<Option<rule::Model>, DbErr> {
    rule::Entity::find_by_id(id)
        .filter(rule::Column::TenantId.eq(tenant))
        .one(conn)
        .await
}

/// Inserts a new rule.
pub async fn insert(conn: &impl ConnectionTrait, r: &rule::Model) -> Result<(), DbErr> {
    rule::Entity::insert(r.clone().into_active_model()).exec(conn).await?;
    Ok(())
}

/// Writes `next` over the rule if it is still at `expected_version`. The
/// round-robin cursor is left alone: the automation owns it.
pub async fn update_guarded(
    conn: &impl ConnectionTrait,
    next: &rule::Model,
    expected_version: i64,
) -> Result<bool, DbErr> {
    let mut active = next.clone().into_active_model().reset_all();
    active.rr_cursor = sea_orm::ActiveValue::NotSet;
    let result = rule::Entity::update_many()
        .set(active)
        .filter(rule::Column::TenantId.eq(&next.tenant_id))
        .filter(rule::Column::Id.eq(&next.id))
        .filter(rule::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes a rule.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<(), DbErr> {
    rule::Entity::delete_many()
        .filter(rule::Column::TenantId.eq(tenant))
        .filter(rule::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// One page of rules, oldest first (ids are UUIDv7), after `after`.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<rule::Model>, DbErr> {
    let mut q = rule::Entity::find().filter(rule::Column::TenantId.eq(tenant));
    if let Some(after) = after {
        q = q.filter(rule::Column::Id.gt(after));
    }
    q.order_by_asc(rule::Column::Id).limit(limit).all(conn).await
}

/// The enabled rules of `tenant` with this trigger, oldest first.
pub async fn matching(
    conn: &impl ConnectionTrait,
    tenant: &str,
    kind: TriggerKind,
    pipeline_id: &str,
    stage_id: Option<&str>,
) -> Result<Vec<rule::Model>, DbErr> {
    let mut q = rule::Entity::find()
        .filter(rule::Column::TenantId.eq(tenant))
        .filter(rule::Column::TriggerKind.eq(kind.as_str()))
        .filter(rule::Column::PipelineId.eq(pipeline_id))
        .filter(rule::Column::Enabled.eq(true));
    if let Some(stage) = stage_id {
        q = q.filter(rule::Column::StageId.eq(stage));
    }
    q.order_by_asc(rule::Column::Id).all(conn).await
}

/// Takes the rule's next round-robin turn: increments the cursor first (on
/// PostgreSQL this locks the row until the transaction ends, so concurrent
/// events queue up) and returns the turn taken.
pub async fn take_turn(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<i64, DbErr> {
    rule::Entity::update_many()
        .col_expr(rule::Column::RrCursor, Expr::col(rule::Column::RrCursor).add(1))
        .filter(rule::Column::TenantId.eq(tenant))
        .filter(rule::Column::Id.eq(id))
        .exec(conn)
        .await?;
    let cursor: Option<i64> = rule::Entity::find_by_id(id)
        .select_only()
        .column(rule::Column::RrCursor)
        .into_tuple()
        .one(conn)
        .await?;
    let cursor = cursor.ok_or_else(|| DbErr::RecordNotFound(format!("rule {id}")))?;
    Ok(cursor - 1)
}
