//! The contact list query: keyset paging by id with the ListContacts
//! filters (name or email prefix, company, tag), all tenant-scoped.

use crm_kit::tenant::Tenant;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};

use super::contacts::{ContactRecord, load};
use crate::{
    domain::listing::ContactFilter,
    entity::{
        contact::{Column, Entity},
        contact_email, contact_tag,
    },
};

/// Up to `limit` contacts after id `after`, oldest first, matching `filter`.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    filter: &ContactFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<ContactRecord>, DbErr> {
    let mut select = tenant.find::<Entity>();
    if !filter.query.is_empty() {
        select = select.filter(matches_query(tenant, &filter.query));
    }
    if let Some(company) = filter.company_id {
        select = select.filter(Column::CompanyId.eq(company.to_string()));
    }
    if let Some(owner) = &filter.owner_id {
        select = select.filter(Column::OwnerId.eq(owner.as_str()));
    }
    if !filter.tag.is_empty() {
        let tagged = Query::select()
            .column((contact_tag::Entity, contact_tag::Column::ContactId))
            .from(contact_tag::Entity)
            .and_where(Expr::col((contact_tag::Entity, contact_tag::Column::TenantId)).eq(tenant.as_str()))
            .and_where(Expr::col((contact_tag::Entity, contact_tag::Column::Tag)).eq(filter.tag.as_str()))
            .to_owned();
        select = select.filter(Column::Id.in_subquery(tagged));
    }
    if !filter.custom.is_empty() {
        select = select.filter(crm_fields::filter::condition(
            conn.get_database_backend(),
            &filter.custom,
        ));
    }
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    let rows = select.order_by_asc(Column::Id).limit(limit).all(conn).await?;
    load(conn, tenant, rows).await
}

/// First name, last name, "first last" or an email starts with `query`.
fn matches_query(tenant: &Tenant, query: &str) -> Condition {
    let by_email = Query::select()
        .column((contact_email::Entity, contact_email::Column::ContactId))
        .from(contact_email::Entity)
        .and_where(Expr::col((contact_email::Entity, contact_email::Column::TenantId)).eq(tenant.as_str()))
        .and_where(super::starts_with(
            (contact_email::Entity, contact_email::Column::Email),
            query,
        ))
        .to_owned();
    Condition::any()
        .add(super::starts_with((Entity, Column::FirstNameLower), query))
        .add(super::starts_with((Entity, Column::LastNameLower), query))
        .add(super::starts_with((Entity, Column::FullNameLower), query))
        .add(Column::Id.in_subquery(by_email))
}
