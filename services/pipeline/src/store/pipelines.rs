//! Pipelines and their stages.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use super::PipelineWithStages;
use crate::entity::{deal, pipeline, stage};

/// The pipeline `id` of `tenant` with its stages.
pub async fn find(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<Option<PipelineWithStages>, DbErr> {
    let Some(p) = pipeline::Entity::find_by_id(id)
        .filter(pipeline::Column::TenantId.eq(tenant))
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
    tenant: &str,
    pipeline_ids: &[String],
) -> Result<HashMap<String, Vec<stage::Model>>, DbErr> {
    let rows = stage::Entity::find()
        .filter(stage::Column::TenantId.eq(tenant))
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
    tenant: &str,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, stage::Model>, DbErr> {
    let rows = stage::Entity::find()
        .filter(stage::Column::TenantId.eq(tenant))
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
    tenant: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<pipeline::Model>, DbErr> {
    let mut q = pipeline::Entity::find().filter(pipeline::Column::TenantId.eq(tenant));
    if let Some(after) = after {
        q = q.filter(pipeline::Column::Id.gt(after));
    }
    q.order_by_asc(pipeline::Column::Id).limit(limit).all(conn).await
}

/// Writes `next` over the pipeline if it is still at `expected_version`;
/// false when a concurrent change got there first.
pub async fn update_guarded(
    conn: &impl ConnectionTrait,
    next: &pipeline::Model,
    expected_version: i64,
) -> Result<bool, DbErr> {
    let result = pipeline::Entity::update_many()
        .col_expr(pipeline::Column::Name, Expr::value(next.name.clone()))
        .col_expr(pipeline::Column::Version, Expr::value(next.version))
        .col_expr(pipeline::Column::UpdatedAt, Expr::value(next.updated_at))
        .filter(pipeline::Column::TenantId.eq(&next.tenant_id))
        .filter(pipeline::Column::Id.eq(&next.id))
        .filter(pipeline::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Replaces the stage rows of a pipeline: deletes `removed`, rewrites
/// `kept`, inserts `added`.
pub async fn replace_stages(
    conn: &impl ConnectionTrait,
    tenant: &str,
    removed: &[String],
    kept: &[stage::Model],
    added: &[stage::Model],
) -> Result<(), DbErr> {
    if !removed.is_empty() {
        stage::Entity::delete_many()
            .filter(stage::Column::TenantId.eq(tenant))
            .filter(stage::Column::Id.is_in(removed.iter().cloned()))
            .exec(conn)
            .await?;
    }
    for s in kept {
        stage::Entity::update_many()
            .col_expr(stage::Column::Position, Expr::value(s.position))
            .col_expr(stage::Column::Name, Expr::value(s.name.clone()))
            .col_expr(stage::Column::Probability, Expr::value(s.probability))
            .col_expr(stage::Column::Kind, Expr::value(s.kind.clone()))
            .col_expr(stage::Column::RottingDays, Expr::value(s.rotting_days))
            .filter(stage::Column::TenantId.eq(tenant))
            .filter(stage::Column::Id.eq(&s.id))
            .exec(conn)
            .await?;
    }
    insert_stages(conn, added).await
}

/// Deletes a pipeline and its stages.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &str, id: &str) -> Result<(), DbErr> {
    stage::Entity::delete_many()
        .filter(stage::Column::TenantId.eq(tenant))
        .filter(stage::Column::PipelineId.eq(id))
        .exec(conn)
        .await?;
    pipeline::Entity::delete_many()
        .filter(pipeline::Column::TenantId.eq(tenant))
        .filter(pipeline::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many deals each of `stage_ids` holds (stages without deals are absent).
pub async fn deal_counts(
    conn: &impl ConnectionTrait,
    tenant: &str,
    stage_ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, i64>, DbErr> {
    let rows: Vec<(String, i64)> = deal::Entity::find()
        .select_only()
        .column(deal::Column::StageId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(deal::Column::TenantId.eq(tenant))
        .filter(deal::Column::StageId.is_in(stage_ids))
        .group_by(deal::Column::StageId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Whether the pipeline holds any deal.
pub async fn has_deals(conn: &impl ConnectionTrait, tenant: &str, pipeline_id: &str) -> Result<bool, DbErr> {
    let found = deal::Entity::find()
        .filter(deal::Column::TenantId.eq(tenant))
        .filter(deal::Column::PipelineId.eq(pipeline_id))
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// A new stage row.
pub fn new_stage(
    tenant: &str,
    pipeline_id: &str,
    id: String,
    position: i32,
    spec: &crate::domain::StageSpec,
) -> stage::Model {
    stage::Model {
        id,
        tenant_id: tenant.to_owned(),
        pipeline_id: pipeline_id.to_owned(),
        position,
        name: spec.name.clone(),
        probability: spec.probability,
        kind: spec.kind.as_str().to_owned(),
        rotting_days: spec.rotting_days,
    }
}
