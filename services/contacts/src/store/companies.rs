//! Queries on `companies`.

use crm_kit::{ApiError, ApiResult, validate::new_id};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    domain::company::CompanyFields,
    entity::{
        company::{ActiveModel, Column, Entity, Model},
        contact,
    },
};

/// The fields of a stored company.
pub fn fields(row: &Model) -> CompanyFields {
    CompanyFields {
        name: row.name.clone(),
        domain: row.domain.clone(),
        owner_id: row.owner_id.clone(),
    }
}

/// Inserts a new company at version 1.
pub async fn insert(
    conn: &impl ConnectionTrait,
    tenant: &str,
    fields: &CompanyFields,
    now: i64,
) -> Result<Model, DbErr> {
    let row = Model {
        id: new_id().to_string(),
        tenant_id: tenant.to_owned(),
        name: fields.name.clone(),
        name_lower: fields.name.to_lowercase(),
        domain: fields.domain.clone(),
        owner_id: fields.owner_id.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    Entity::insert(row.clone().into_active_model().reset_all())
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The tenant's company `id`, if it exists.
pub async fn find(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned())
        .filter(Column::TenantId.eq(tenant))
        .one(conn)
        .await
}

/// The tenant's company `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &str, id: Uuid) -> ApiResult<Model> {
    let id = id.to_string();
    find(conn, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company", id))
}

/// FAILED_PRECONDITION naming `field` unless the tenant has company `id`.
pub async fn ensure_exists(conn: &impl ConnectionTrait, tenant: &str, id: Uuid, field: &str) -> ApiResult<()> {
    match find(conn, tenant, &id.to_string()).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::precondition(
            "COMPANY_NOT_FOUND",
            field,
            format!("{field}: company {id} does not exist"),
        )),
    }
}

/// Writes `fields` over `current` as the next version; a concurrent change
/// in between is a retryable conflict.
pub async fn update(
    conn: &impl ConnectionTrait,
    current: &Model,
    fields: &CompanyFields,
    now: i64,
) -> ApiResult<Model> {
    let next = Model {
        name: fields.name.clone(),
        name_lower: fields.name.to_lowercase(),
        domain: fields.domain.clone(),
        owner_id: fields.owner_id.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    let changes = ActiveModel {
        name: Set(next.name.clone()),
        name_lower: Set(next.name_lower.clone()),
        domain: Set(next.domain.clone()),
        owner_id: Set(next.owner_id.clone()),
        version: Set(next.version),
        updated_at: Set(next.updated_at),
        ..Default::default()
    };
    let result = Entity::update_many()
        .set(changes)
        .filter(Column::TenantId.eq(&current.tenant_id))
        .filter(Column::Id.eq(&current.id))
        .filter(Column::Version.eq(current.version))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::Conflict);
    }
    Ok(next)
}

/// Whether any contact of the tenant still belongs to company `id`.
pub async fn has_contacts(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<bool, DbErr> {
    let count = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant))
        .filter(contact::Column::CompanyId.eq(id))
        .count(conn)
        .await?;
    Ok(count > 0)
}

/// Deletes the tenant's company `id` if it is still at `version`.
pub async fn delete(conn: &impl ConnectionTrait, current: &Model) -> ApiResult<()> {
    let result = Entity::delete_many()
        .filter(Column::TenantId.eq(&current.tenant_id))
        .filter(Column::Id.eq(&current.id))
        .filter(Column::Version.eq(current.version))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::Conflict);
    }
    Ok(())
}

/// Up to `limit` companies after id `after`, oldest first, whose name or
/// domain starts with `query` (lower case; empty for all).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &str,
    query: &str,
    owner: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut select = Entity::find().filter(Column::TenantId.eq(tenant));
    if let Some(owner) = owner {
        select = select.filter(Column::OwnerId.eq(owner));
    }
    if !query.is_empty() {
        select = select.filter(
            Condition::any()
                .add(super::starts_with(Column::NameLower, query))
                .add(super::starts_with(Column::Domain, query)),
        );
    }
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    select.order_by_asc(Column::Id).limit(limit).all(conn).await
}
