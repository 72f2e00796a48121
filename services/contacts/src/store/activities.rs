//! Queries on `activities`.

use crm_kit::{ApiError, ApiResult, tenant::Tenant, validate::new_id};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    domain::activity::{NewActivity, Timeline},
    entity::activity::{Column, Entity, Model},
};

/// Inserts a logged activity by `author`.
pub async fn insert(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    author: &str,
    activity: &NewActivity,
    now: i64,
) -> Result<Model, DbErr> {
    let row = Model {
        id: new_id().to_string(),
        tenant_id: tenant.id(),
        kind: activity.kind as i32,
        subject: activity.subject.clone(),
        body: activity.body.clone(),
        occurred_at: activity.occurred_at,
        author_id: author.to_owned(),
        contact_id: activity.contact_id.map(|id| id.to_string()),
        company_id: activity.company_id.map(|id| id.to_string()),
        deal_id: activity.deal_id.map(|id| id.to_string()),
        created_at: now,
    };
    Entity::insert(row.clone().into_active_model().reset_all())
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The tenant's activity `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<Model> {
    tenant
        .find::<Entity>()
        .filter(Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("activity", id))
}

/// Moves the activities of contact `from` to contact `to`; returns how many moved.
pub async fn repoint(conn: &impl ConnectionTrait, tenant: &Tenant, from: &str, to: &str) -> Result<u64, DbErr> {
    let result = tenant
        .update::<Entity>()
        .col_expr(Column::ContactId, Expr::value(to))
        .filter(Column::ContactId.eq(from))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Up to `limit` activities of `timeline`, newest first, after the sort key
/// `after` = (occurred_at, id).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    timeline: Timeline,
    author: Option<&str>,
    after: Option<(i64, String)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let on_timeline = match timeline {
        Timeline::Contact(id) => Column::ContactId.eq(id.to_string()),
        Timeline::Company(id) => Column::CompanyId.eq(id.to_string()),
        Timeline::Deal(id) => Column::DealId.eq(id.to_string()),
    };
    let mut select = tenant.find::<Entity>().filter(on_timeline);
    if let Some(author) = author {
        select = select.filter(Column::AuthorId.eq(author));
    }
    if let Some((at, id)) = after {
        select = select.filter(
            Condition::any()
                .add(Column::OccurredAt.lt(at))
                .add(Column::OccurredAt.eq(at).and(Column::Id.lt(id))),
        );
    }
    select
        .order_by_desc(Column::OccurredAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
