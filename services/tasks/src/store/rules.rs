//! Rules, and the round-robin cursor.

use crm_kit::{ApiError, ApiResult, tenant::Tenant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{domain::rule::TriggerKind, entity::rule};

/// The rule `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<rule::Model> {
    tenant
        .find::<rule::Entity>()
        .filter(rule::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("rule", id))
}

/// Inserts a new rule.
pub async fn insert(conn: &impl ConnectionTrait, r: &rule::Model) -> Result<(), DbErr> {
    rule::Entity::insert(r.clone().into_active_model()).exec(conn).await?;
    Ok(())
}

/// Writes `next` over the rule if it is still at `expected` (ABORTED
/// otherwise). The round-robin cursor is left alone: the automation owns it.
pub async fn save(conn: &impl ConnectionTrait, tenant: &Tenant, next: &rule::Model, expected: i64) -> ApiResult<()> {
    let mut values = next.clone().into_active_model().reset_all();
    values.rr_cursor = sea_orm::ActiveValue::NotSet;
    tenant.save_guarded(conn, &next.id, expected, values).await
}

/// Deletes a rule if it is still at its version.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, r: &rule::Model) -> ApiResult<()> {
    tenant.delete_guarded::<rule::Entity>(conn, &r.id, r.version).await
}

/// One page of rules, oldest first (ids are UUIDv7), after `after`.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<rule::Model>, DbErr> {
    let mut q = tenant.find::<rule::Entity>();
    if let Some(after) = after {
        q = q.filter(rule::Column::Id.gt(after));
    }
    q.order_by_asc(rule::Column::Id).limit(limit).all(conn).await
}

/// The enabled rules of `tenant` with this trigger, oldest first.
pub async fn matching(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    kind: TriggerKind,
    pipeline_id: &str,
    stage_id: Option<&str>,
) -> Result<Vec<rule::Model>, DbErr> {
    let mut q = tenant
        .find::<rule::Entity>()
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
pub async fn take_turn(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<i64, DbErr> {
    tenant
        .update::<rule::Entity>()
        .col_expr(rule::Column::RrCursor, Expr::col(rule::Column::RrCursor).add(1))
        .filter(rule::Column::Id.eq(id))
        .exec(conn)
        .await?;
    let cursor: Option<i64> = tenant
        .find::<rule::Entity>()
        .filter(rule::Column::Id.eq(id))
        .select_only()
        .column(rule::Column::RrCursor)
        .into_tuple()
        .one(conn)
        .await?;
    let cursor = cursor.ok_or_else(|| DbErr::RecordNotFound(format!("rule {id}")))?;
    Ok(cursor - 1)
}
