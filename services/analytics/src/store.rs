//! Reads of the projections, always scoped to the caller's tenant.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use crm_proto::common::v1::{DealStatus, StageKind};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    domain::{Deal, History, Period, Stage, Transition},
    entity::{activity, deal, stage, transition},
};

/// The board stages of a pipeline in order; empty when the tenant has no such pipeline.
pub async fn stages(db: &impl ConnectionTrait, tenant: &str, pipeline_id: &str) -> Result<Vec<Stage>, DbErr> {
    let rows = stage::Entity::find()
        .filter(stage::Column::TenantId.eq(tenant))
        .filter(stage::Column::PipelineId.eq(pipeline_id))
        .filter(stage::Column::Position.is_not_null())
        .order_by_asc(stage::Column::Position)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| Stage {
            id: s.id,
            name: s.name,
            kind: StageKind::try_from(s.kind).unwrap_or(StageKind::Unspecified),
            probability: s.probability,
            rotting_days: s.rotting_days,
        })
        .collect())
}

/// The pipeline's live deals (only `owner`'s, if given) with their transitions.
pub async fn history(
    db: &impl ConnectionTrait,
    tenant: &str,
    pipeline_id: &str,
    owner: Option<&str>,
    stages: Vec<Stage>,
    now: i64,
) -> Result<History, DbErr> {
    let mut q = deal::Entity::find()
        .filter(deal::Column::TenantId.eq(tenant))
        .filter(deal::Column::PipelineId.eq(pipeline_id))
        .filter(deal::Column::Deleted.eq(false));
    if let Some(owner) = owner {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    let deals = q.order_by_asc(deal::Column::Id).all(db).await?;
    let mut moves: HashMap<String, Vec<Transition>> = HashMap::new();
    let rows = transition::Entity::find()
        .filter(transition::Column::TenantId.eq(tenant))
        .filter(transition::Column::PipelineId.eq(pipeline_id))
        .all(db)
        .await?;
    for t in rows {
        moves.entry(t.deal_id).or_default().push(Transition {
            version: t.aggregate_version,
            to_stage_id: t.to_stage_id,
            at: t.at,
        });
    }
    let deals = deals
        .into_iter()
        .map(|d| {
            let ts = moves.remove(&d.id).unwrap_or_default();
            (to_deal(d), ts)
        })
        .collect();
    Ok(History::new(stages, deals, now))
}

fn to_deal(d: deal::Model) -> Deal {
    Deal {
        stage_id: d.stage_id,
        status: DealStatus::try_from(d.status).unwrap_or(DealStatus::Unspecified),
        title: d.title,
        owner_id: d.owner_id,
        amount: d.currency.zip(d.amount_minor),
        expected_close: d.expected_close_day.and_then(NaiveDate::from_num_days_from_ce_opt),
        create_time: d.create_time,
        closed_at: d.closed_at,
        id: d.id,
    }
}

/// Activities logged in `period` per author (only `owner`'s, if given).
pub async fn activities(
    db: &impl ConnectionTrait,
    tenant: &str,
    owner: Option<&str>,
    period: Period,
) -> Result<BTreeMap<String, i64>, DbErr> {
    let mut q = activity::Entity::find()
        .filter(activity::Column::TenantId.eq(tenant))
        .filter(activity::Column::OccurredAt.gte(period.from))
        .filter(activity::Column::OccurredAt.lt(period.to));
    if let Some(owner) = owner {
        q = q.filter(activity::Column::AuthorId.eq(owner));
    }
    let mut counts = BTreeMap::new();
    for a in q.all(db).await? {
        *counts.entry(a.author_id).or_default() += 1;
    }
    Ok(counts)
}
