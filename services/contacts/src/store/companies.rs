//! Queries on `companies`.

use crm_kit::{ApiError, ApiResult, tenant::Tenant, validate::new_id};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    domain::{company::CompanyFields, listing::CompanyQuery},
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
        custom: row.custom_fields.clone(),
    }
}

/// Inserts a new company at version 1.
pub async fn insert(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    fields: &CompanyFields,
    now: i64,
) -> Result<Model, DbErr> {
    let row = Model {
        id: new_id().to_string(),
        tenant_id: tenant.id(),
        name: fields.name.clone(),
        name_lower: fields.name.to_lowercase(),
        domain: fields.domain.clone(),
        owner_id: fields.owner_id.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
        custom_fields: fields.custom.clone(),
    };
    Entity::insert(row.clone().into_active_model().reset_all())
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The tenant's company `id`, if it exists.
pub async fn find(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<Option<Model>, DbErr> {
    tenant.find::<Entity>().filter(Column::Id.eq(id)).one(conn).await
}

/// The tenant's company `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: Uuid) -> ApiResult<Model> {
    let id = id.to_string();
    find(conn, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company", id))
}

/// The tenant's company `id` (a canonical UUID), or NOT_FOUND.
pub async fn get_by_id(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<Model> {
    find(conn, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("company", id))
}

/// FAILED_PRECONDITION naming `field` unless the tenant has company `id`.
pub async fn ensure_exists(conn: &impl ConnectionTrait, tenant: &Tenant, id: Uuid, field: &str) -> ApiResult<()> {
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
    tenant: &Tenant,
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
        custom_fields: fields.custom.clone(),
        ..current.clone()
    };
    let changes = ActiveModel {
        name: Set(next.name.clone()),
        name_lower: Set(next.name_lower.clone()),
        domain: Set(next.domain.clone()),
        owner_id: Set(next.owner_id.clone()),
        custom_fields: Set(next.custom_fields.clone()),
        version: Set(next.version),
        updated_at: Set(next.updated_at),
        ..Default::default()
    };
    tenant.save_guarded(conn, &current.id, current.version, changes).await?;
    Ok(next)
}

/// Whether any contact of the tenant still belongs to company `id`.
pub async fn has_contacts(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<bool, DbErr> {
    let count = tenant
        .find::<contact::Entity>()
        .filter(contact::Column::CompanyId.eq(id))
        .count(conn)
        .await?;
    Ok(count > 0)
}

/// Deletes the tenant's company `current` if it is still at its version.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, current: &Model) -> ApiResult<()> {
    tenant
        .delete_guarded::<Entity>(conn, &current.id, current.version)
        .await
}

/// Up to `limit` companies after id `after`, oldest first, whose name or
/// domain starts with the query's prefix and whose custom values match.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    q: &CompanyQuery,
    owner: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut select = tenant.find::<Entity>();
    if let Some(owner) = owner {
        select = select.filter(Column::OwnerId.eq(owner));
    }
    let query = q.query.as_str();
    if !q.custom.is_empty() {
        select = select.filter(crm_fields::filter::condition(conn.get_database_backend(), &q.custom));
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
