//! Deals and their stage transitions.

use std::collections::HashMap;

use crm_kit::{ApiError, ApiResult, tenant::Tenant};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use crate::{
    domain::{
        CreatedDeal, DealFilter, Moved,
        import::ImportedRows,
        purchases::{Customer, Group},
    },
    entity::{deal, stall, transition},
    store::seen::{self, Seen},
};

/// The deal `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<deal::Model> {
    tenant
        .find::<deal::Entity>()
        .filter(deal::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("deal", id))
}

/// The deal `id` with what was [`Seen`](super::seen::Seen) with it, in one
/// query, or NOT_FOUND.
pub async fn get_seen(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<(deal::Model, Seen)> {
    let query = tenant.find::<deal::Entity>().filter(deal::Column::Id.eq(id));
    let row = seen::seen(seen::with_version(query, "deals"))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("deal", id))?;
    Ok((row.0, row.1))
}

/// Inserts a new deal and its first stage entry.
pub async fn insert(conn: &impl ConnectionTrait, c: &CreatedDeal) -> Result<(), DbErr> {
    deal::Entity::insert(c.deal.clone().into_active_model())
        .exec(conn)
        .await?;
    insert_transition(conn, &c.transition).await
}

/// Writes `next` over the deal if it is still at `expected` (ABORTED otherwise).
pub async fn save(conn: &impl ConnectionTrait, tenant: &Tenant, next: &deal::Model, expected: i64) -> ApiResult<()> {
    tenant.save_model_guarded(conn, next, expected).await
}

/// Writes a move: the deal's next state (if the deal is still at
/// `expected`) and its new stage entry.
pub async fn save_move(conn: &impl ConnectionTrait, tenant: &Tenant, m: &Moved, expected: i64) -> ApiResult<()> {
    save(conn, tenant, &m.next, expected).await?;
    Ok(insert_transition(conn, &m.transition).await?)
}

/// Writes a batch of imported deals with their histories, each INSERT
/// well under the databases' bind-parameter limits.
pub async fn insert_imported(conn: &impl ConnectionTrait, rows: &[ImportedRows]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let deals = rows.iter().map(|r| r.deal.clone().into_active_model());
    deal::Entity::insert_many(deals).exec_without_returning(conn).await?;
    let transitions: Vec<_> = rows
        .iter()
        .flat_map(|r| r.transitions.iter().cloned().map(IntoActiveModel::into_active_model))
        .collect();
    for chunk in transitions.chunks(2000) {
        transition::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Deletes a deal (if it is still at `expected`), its history and its
/// stall records.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, d: &deal::Model) -> ApiResult<()> {
    tenant.delete_guarded::<deal::Entity>(conn, &d.id, d.version).await?;
    tenant
        .delete::<stall::Entity>()
        .filter(stall::Column::DealId.eq(&d.id))
        .exec(conn)
        .await?;
    tenant
        .delete::<transition::Entity>()
        .filter(transition::Column::DealId.eq(&d.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The condition of a ListDeals filter (every part optional, combined
/// with AND) on `backend`.
fn condition(backend: DbBackend, filter: &DealFilter) -> Condition {
    let f = filter;
    let mut c = Condition::all();
    if let Some(v) = &f.pipeline_id {
        c = c.add(deal::Column::PipelineId.eq(v));
    }
    if let Some(v) = &f.stage_id {
        c = c.add(deal::Column::StageId.eq(v));
    }
    if let Some(v) = &f.owner_id {
        c = c.add(deal::Column::OwnerId.eq(v));
    }
    if let Some(v) = f.status {
        c = c.add(deal::Column::Status.eq(v));
    }
    if let Some(v) = &f.close_from {
        c = c.add(deal::Column::ExpectedCloseDate.gte(v));
    }
    if let Some(v) = &f.close_to {
        c = c.add(deal::Column::ExpectedCloseDate.lte(v));
    }
    if let Some(v) = &f.contact_id {
        c = c.add(deal::Column::ContactId.eq(v));
    }
    if let Some(v) = &f.company_id {
        c = c.add(deal::Column::CompanyId.eq(v));
    }
    if !f.custom.is_empty() {
        c = c.add(crm_fields::filter::condition(backend, &f.custom));
    }
    c
}

/// One page of deals matching `filter`, by id, each with what was seen
/// with it.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    filter: &DealFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<(deal::Model, Seen)>, DbErr> {
    let backend = conn.get_database_backend();
    let mut q = tenant.find::<deal::Entity>().filter(condition(backend, filter));
    if let Some(after) = after {
        q = q.filter(deal::Column::Id.gt(after));
    }
    let q = q.order_by_asc(deal::Column::Id).limit(limit);
    let rows = seen::seen(seen::with_version(q, "deals")).all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.0, r.1)).collect())
}

/// Appends a stage entry.
async fn insert_transition(conn: &impl ConnectionTrait, t: &transition::Model) -> Result<(), DbErr> {
    transition::Entity::insert(t.clone().into_active_model())
        .exec(conn)
        .await?;
    Ok(())
}

/// One page of a deal's transitions, oldest first, after `(moved_at, id)`.
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    deal_id: &str,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<transition::Model>, DbErr> {
    let mut q = tenant
        .find::<transition::Entity>()
        .filter(transition::Column::DealId.eq(deal_id));
    if let Some((moved_at, id)) = after {
        q = q.filter(
            Condition::any().add(transition::Column::MovedAt.gt(*moved_at)).add(
                Condition::all()
                    .add(transition::Column::MovedAt.eq(*moved_at))
                    .add(transition::Column::Id.gt(id)),
            ),
        );
    }
    q.order_by_asc(transition::Column::MovedAt)
        .order_by_asc(transition::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// The transitions of `deal_ids`, by deal, each oldest first.
pub async fn histories(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    deal_ids: &[String],
) -> Result<HashMap<String, Vec<transition::Model>>, DbErr> {
    let rows = tenant
        .find::<transition::Entity>()
        .filter(transition::Column::DealId.is_in(deal_ids.iter().cloned()))
        .order_by_asc(transition::Column::MovedAt)
        .order_by_asc(transition::Column::Id)
        .all(conn)
        .await?;
    let mut by_deal: HashMap<String, Vec<transition::Model>> = HashMap::new();
    for row in rows {
        by_deal.entry(row.deal_id.clone()).or_default().push(row);
    }
    Ok(by_deal)
}

/// Per stage and currency: the deal count and the summed amount (minor
/// units) of a pipeline's deals, optionally of one owner.
pub async fn board_totals(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    pipeline_id: &str,
    owner_id: Option<&str>,
) -> Result<Vec<(String, Option<String>, i64, Option<i64>)>, DbErr> {
    let mut q = tenant
        .find::<deal::Entity>()
        .select_only()
        .column(deal::Column::StageId)
        .column(deal::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS BIGINT)"), "total")
        .filter(deal::Column::PipelineId.eq(pipeline_id));
    if let Some(owner) = owner_id {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    q.group_by(deal::Column::StageId)
        .group_by(deal::Column::Currency)
        .into_tuple()
        .all(conn)
        .await
}

/// A customer's deals the caller may read (all, or `owner_id`'s), grouped
/// by status and currency (see [`crate::domain::purchases::Group`]).
pub async fn purchase_groups(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    customer: &Customer,
    owner_id: Option<&str>,
) -> Result<Vec<Group>, DbErr> {
    let mut q = tenant
        .find::<deal::Entity>()
        .select_only()
        .column(deal::Column::Status)
        .column(deal::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS BIGINT)"), "total")
        .column_as(Expr::cust("MIN(closed_at)"), "first")
        .column_as(Expr::cust("MAX(closed_at)"), "last");
    q = match customer {
        Customer::Contact(id) => q.filter(deal::Column::ContactId.eq(id)),
        Customer::Company(id) => q.filter(deal::Column::CompanyId.eq(id)),
    };
    if let Some(owner) = owner_id {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    q.group_by(deal::Column::Status)
        .group_by(deal::Column::Currency)
        .into_tuple()
        .all(conn)
        .await
}

/// The first `limit` deals of a stage, longest in the stage first.
pub async fn column(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    stage_id: &str,
    owner_id: Option<&str>,
    limit: u64,
) -> Result<Vec<deal::Model>, DbErr> {
    let mut q = tenant.find::<deal::Entity>().filter(deal::Column::StageId.eq(stage_id));
    if let Some(owner) = owner_id {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    q.order_by_asc(deal::Column::StageEnteredAt)
        .order_by_asc(deal::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
