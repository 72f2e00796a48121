//! Pipelines and their stages: a newer snapshot replaces the board; a
//! deletion leaves a tombstone, so a late event changes nothing.

use crm_kit::tenant::Tenant;
use crm_proto::{events::v1::EventEnvelope, pipeline::v1::Pipeline};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, sea_query::OnConflict,
};

use super::{Touched, save};
use crate::entity::{pipeline, stage};

/// Replaces the pipeline's stages when the event is newer than what is stored.
pub(super) async fn put(txn: &DatabaseTransaction, e: &EventEnvelope, p: Pipeline) -> anyhow::Result<Option<Touched>> {
    let tenant = &Tenant::of_event(e);
    let id = if p.id.is_empty() {
        e.aggregate_id.clone()
    } else {
        p.id.clone()
    };
    let stored = tenant
        .find::<pipeline::Entity>()
        .filter(pipeline::Column::Id.eq(&id))
        .one(txn)
        .await?;
    if stored
        .as_ref()
        .is_some_and(|s| s.deleted || s.version >= e.aggregate_version)
    {
        return Ok(None);
    }
    let row = pipeline::Model {
        tenant_id: tenant.id(),
        id: id.clone(),
        version: e.aggregate_version,
        deleted: false,
    };
    save(txn, stored.is_some(), row.into_active_model()).await?;
    retire_stages(txn, tenant, &id).await?;
    for (position, s) in p.stages.iter().enumerate() {
        let row = stage::Model {
            tenant_id: tenant.id(),
            id: s.id.clone(),
            pipeline_id: id.clone(),
            position: Some(i32::try_from(position)?),
            name: s.name.clone(),
            kind: s.kind,
            probability: s.probability,
            rotting_days: s.rotting_days,
        };
        stage::Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::columns([stage::Column::TenantId, stage::Column::Id])
                    .update_columns([
                        stage::Column::PipelineId,
                        stage::Column::Position,
                        stage::Column::Name,
                        stage::Column::Kind,
                        stage::Column::Probability,
                        stage::Column::RottingDays,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Some(Touched::stages(id)))
}

/// Takes every stage of the pipeline off the board (names stay for history).
async fn retire_stages(txn: &impl ConnectionTrait, tenant: &Tenant, pipeline_id: &str) -> anyhow::Result<()> {
    tenant
        .update::<stage::Entity>()
        .col_expr(
            stage::Column::Position,
            sea_orm::sea_query::Expr::value(Option::<i32>::None),
        )
        .filter(stage::Column::PipelineId.eq(pipeline_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Leaves a tombstone for the pipeline and takes its stages off the board.
pub(super) async fn delete(txn: &DatabaseTransaction, tenant: &Tenant, id: &str, version: i64) -> anyhow::Result<()> {
    let stored = tenant
        .find::<pipeline::Entity>()
        .filter(pipeline::Column::Id.eq(id))
        .one(txn)
        .await?;
    let row = pipeline::Model {
        tenant_id: tenant.id(),
        id: id.to_owned(),
        version: stored.as_ref().map_or(version, |s| s.version.max(version)),
        deleted: true,
    };
    save(txn, stored.is_some(), row.into_active_model()).await?;
    retire_stages(txn, tenant, id).await
}
