//! Pipelines and their stages.

use std::collections::HashMap;

use crm_kit::{ApiError, ApiResult, tenant::Tenant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::{
    domain::{PipelineChange, PipelineWithStages},
    entity::{deal, pipeline, stage},
};

/// The pipeline `id` with its stages, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<PipelineWithStages> {
    find(conn, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("pipeline", id))
}

/// The pipeline `id` with its stages, if the tenant has it.
pub async fn find(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<Option<PipelineWithStages>, DbErr> {
    let Some(p) = tenant
        .find::<pipeline::Entity>()
        .filter(pipeline::Column::Id.eq(id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let stages = stages_of(conn, tenant, std::slice::from_ref(&p.id))
        .await?
        .remove(&p.id)
        .unwrap_or_default();
    Ok(Some(PipelineWithStages { pipeline: p, stages }))
}

/// The stages of `pipeline_ids`, grouped by pipeline, each in board order.
pub async fn stages_of(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    pipeline_ids: &[String],
) -> Result<HashMap<String, Vec<stage::Model>>, DbErr> {
    let rows = tenant
        .find::<stage::Entity>()
        .filter(stage::Column::PipelineId.is_in(pipeline_ids.iter().cloned()))
        .order_by_asc(stage::Column::Position)
        .all(conn)
        .await?;
    let mut by_pipeline: HashMap<String, Vec<stage::Model>> = HashMap::new();
    for row in rows {
        by_pipeline.entry(row.pipeline_id.clone()).or_default().push(row);
    }
    Ok(by_pipeline)
}

/// The stages with `ids`, by id.
pub async fn stages_by_id(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, stage::Model>, DbErr> {
    let rows = tenant
        .find::<stage::Entity>()
        .filter(stage::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|s| (s.id.clone(), s)).collect())
}

/// Inserts a pipeline and its stages.
pub async fn insert(conn: &impl ConnectionTrait, p: &PipelineWithStages) -> Result<(), DbErr> {
    pipeline::Entity::insert(p.pipeline.clone().into_active_model())
        .exec(conn)
        .await?;
    insert_stages(conn, &p.stages).await
}

async fn insert_stages(conn: &impl ConnectionTrait, stages: &[stage::Model]) -> Result<(), DbErr> {
    if stages.is_empty() {
        return Ok(());
    }
    stage::Entity::insert_many(stages.iter().cloned().map(IntoActiveModel::into_active_model))
        .exec(conn)
        .await?;
    Ok(())
}

/// One page of the tenant's pipelines, by id.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<pipeline::Model>, DbErr> {
    let mut q = tenant.find::<pipeline::Entity>();
    if let Some(after) = after {
        q = q.filter(pipeline::Column::Id.gt(after));
    }
    q.order_by_asc(pipeline::Column::Id).limit(limit).all(conn).await
}

/// Writes a change: the pipeline row (if it is still at `expected`;
/// ABORTED otherwise), and its stages: removed ones deleted, kept ones
/// rewritten, new ones inserted.
pub async fn save(conn: &impl ConnectionTrait, tenant: &Tenant, c: &PipelineChange, expected: i64) -> ApiResult<()> {
    tenant.save_model_guarded(conn, &c.next.pipeline, expected).await?;
    if !c.removed.is_empty() {
        tenant
            .delete::<stage::Entity>()
            .filter(stage::Column::Id.is_in(c.removed.iter().cloned()))
            .exec(conn)
            .await?;
    }
    for s in &c.kept {
        tenant
            .update::<stage::Entity>()
            .col_expr(stage::Column::Position, Expr::value(s.position))
            .col_expr(stage::Column::Name, Expr::value(s.name.clone()))
            .col_expr(stage::Column::Probability, Expr::value(s.probability))
            .col_expr(stage::Column::Kind, Expr::value(s.kind.clone()))
            .col_expr(stage::Column::RottingDays, Expr::value(s.rotting_days))
            .filter(stage::Column::Id.eq(&s.id))
            .exec(conn)
            .await?;
    }
    Ok(insert_stages(conn, &c.added).await?)
}

/// Deletes a pipeline (if it is still at its version) and its stages.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, p: &PipelineWithStages) -> ApiResult<()> {
    let (id, version) = (&p.pipeline.id, p.pipeline.version);
    tenant.delete_guarded::<pipeline::Entity>(conn, id, version).await?;
    tenant
        .delete::<stage::Entity>()
        .filter(stage::Column::PipelineId.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many deals each of `stage_ids` holds (stages without deals are absent).
pub async fn deal_counts(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    stage_ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, i64>, DbErr> {
    let rows: Vec<(String, i64)> = tenant
        .find::<deal::Entity>()
        .select_only()
        .column(deal::Column::StageId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(deal::Column::StageId.is_in(stage_ids))
        .group_by(deal::Column::StageId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Whether the pipeline holds any deal.
pub async fn has_deals(conn: &impl ConnectionTrait, tenant: &Tenant, pipeline_id: &str) -> Result<bool, DbErr> {
    let found = tenant
        .find::<deal::Entity>()
        .filter(deal::Column::PipelineId.eq(pipeline_id))
        .one(conn)
        .await?;
    Ok(found.is_some())
}
