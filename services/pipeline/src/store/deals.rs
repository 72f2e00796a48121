//! Deals and their stage transitions.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::entity::{deal, stall, transition};

/// The deal `id` of `tenant`.
pub async fn find(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<Option<deal::Model>, DbErr> {
    deal::Entity::find_by_id(id)
        .filter(deal::Column::TenantId.eq(tenant))
        .one(conn)
        .await
}

/// Inserts a new deal.
pub async fn insert(conn: &impl ConnectionTrait, d: &deal::Model) -> Result<(), DbErr> {
    deal::Entity::insert(d.clone().into_active_model()).exec(conn).await?;
    Ok(())
}

/// Writes `next` over the deal if it is still at `expected_version`; false
/// when a concurrent change got there first.
pub async fn update_guarded(
    conn: &impl ConnectionTrait,
    next: &deal::Model,
    expected_version: i64,
) -> Result<bool, DbErr> {
    // Every column is written: the caller passes the whole next state.
    let active = next.clone().into_active_model().reset_all();
    let result = deal::Entity::update_many()
        .set(active)
        .filter(deal::Column::TenantId.eq(&next.tenant_id))
        .filter(deal::Column::Id.eq(&next.id))
        .filter(deal::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes a deal, its history and its stall records.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<(), DbErr> {
    stall::Entity::delete_many()
        .filter(stall::Column::TenantId.eq(tenant))
        .filter(stall::Column::DealId.eq(id))
        .exec(conn)
        .await?;
    transition::Entity::delete_many()
        .filter(transition::Column::TenantId.eq(tenant))
        .filter(transition::Column::DealId.eq(id))
        .exec(conn)
        .await?;
    deal::Entity::delete_many()
        .filter(deal::Column::TenantId.eq(tenant))
        .filter(deal::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The filters of ListDeals, all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct DealFilter {
    /// Only this pipeline.
    pub pipeline_id: Option<String>,
    /// Only this stage.
    pub stage_id: Option<String>,
    /// Only this owner.
    pub owner_id: Option<String>,
    /// Only this status (`open`, `won`, `lost`).
    pub status: Option<&'static str>,
    /// Expected to close on or after (`YYYY-MM-DD`).
    pub close_from: Option<String>,
    /// Expected to close on or before (`YYYY-MM-DD`).
    pub close_to: Option<String>,
}

impl DealFilter {
    /// A stable description of the filter, binding page tokens to it.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }

    fn condition(&self, tenant: &str) -> Condition {
        let mut c = Condition::all().add(deal::Column::TenantId.eq(tenant));
        if let Some(v) = &self.pipeline_id {
            c = c.add(deal::Column::PipelineId.eq(v));
        }
        if let Some(v) = &self.stage_id {
            c = c.add(deal::Column::StageId.eq(v));
        }
        if let Some(v) = &self.owner_id {
            c = c.add(deal::Column::OwnerId.eq(v));
        }
        if let Some(v) = self.status {
            c = c.add(deal::Column::Status.eq(v));
        }
        if let Some(v) = &self.close_from {
            c = c.add(deal::Column::ExpectedCloseDate.gte(v));
        }
        if let Some(v) = &self.close_to {
            c = c.add(deal::Column::ExpectedCloseDate.lte(v));
        }
        c
    }
}

/// One page of deals matching `filter`, by id.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &str,
    filter: &DealFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<deal::Model>, DbErr> {
    let mut q = deal::Entity::find().filter(filter.condition(tenant));
    if let Some(after) = after {
        q = q.filter(deal::Column::Id.gt(after));
    }
    q.order_by_asc(deal::Column::Id).limit(limit).all(conn).await
}

/// Appends a transition.
pub async fn insert_transition(conn: &impl ConnectionTrait, t: &transition::Model) -> Result<(), DbErr> {
    transition::Entity::insert(t.clone().into_active_model())
        .exec(conn)
        .await?;
    Ok(())
}

/// One page of a deal's transitions, oldest first, after `(moved_at, id)`.
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant: &str,
    deal_id: &str,
    after: Option<&(i64, String)>,
    limit: u64,
) -> Result<Vec<transition::Model>, DbErr> {
    let mut q = transition::Entity::find()
        .filter(transition::Column::TenantId.eq(tenant))
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
    tenant: &str,
    deal_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<transition::Model>>, DbErr> {
    let rows = transition::Entity::find()
        .filter(transition::Column::TenantId.eq(tenant))
        .filter(transition::Column::DealId.is_in(deal_ids.iter().cloned()))
        .order_by_asc(transition::Column::MovedAt)
        .order_by_asc(transition::Column::Id)
        .all(conn)
        .await?;
    let mut by_deal: std::collections::HashMap<String, Vec<transition::Model>> = std::collections::HashMap::new();
    for row in rows {
        by_deal.entry(row.deal_id.clone()).or_default().push(row);
    }
    Ok(by_deal)
}

/// Per stage and currency: the deal count and the summed amount (minor
/// units) of a pipeline's deals, optionally of one owner.
pub async fn board_totals(
    conn: &impl ConnectionTrait,
    tenant: &str,
    pipeline_id: &str,
    owner_id: Option<&str>,
) -> Result<Vec<(String, Option<String>, i64, Option<i64>)>, DbErr> {
    let mut q = deal::Entity::find()
        .select_only()
        .column(deal::Column::StageId)
        .column(deal::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS BIGINT)"), "total")
        .filter(deal::Column::TenantId.eq(tenant))
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

/// The first `limit` deals of a stage, longest in the stage first.
pub async fn column(
    conn: &impl ConnectionTrait,
    tenant: &str,
    stage_id: &str,
    owner_id: Option<&str>,
    limit: u64,
) -> Result<Vec<deal::Model>, DbErr> {
    let mut q = deal::Entity::find()
        .filter(deal::Column::TenantId.eq(tenant))
        .filter(deal::Column::StageId.eq(stage_id));
    if let Some(owner) = owner_id {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    q.order_by_asc(deal::Column::StageEnteredAt)
        .order_by_asc(deal::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
