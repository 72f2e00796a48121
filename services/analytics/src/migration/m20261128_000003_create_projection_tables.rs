//! Creates the projection tables, with the indexes the per-pipeline reads use.

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::{activity, deal, pipeline, stage, transition};

/// The first analytics schema.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000003_create_projection_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, pipeline::Entity).await?;
        create_from_entity(manager, stage::Entity).await?;
        create_from_entity(manager, deal::Entity).await?;
        create_from_entity(manager, transition::Entity).await?;
        create_from_entity(manager, activity::Entity).await?;
        // Every read loads one tenant's pipeline: its deals and their moves.
        manager
            .create_index(
                Index::create()
                    .name("analytics_deals_tenant_pipeline")
                    .table(deal::Entity)
                    .col(deal::Column::TenantId)
                    .col(deal::Column::PipelineId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("analytics_transitions_tenant_pipeline")
                    .table(transition::Entity)
                    .col(transition::Column::TenantId)
                    .col(transition::Column::PipelineId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
