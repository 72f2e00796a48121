//! Creates pipelines, stages, deals and deal_transitions, with the indexes
//! the tenant-scoped queries use.

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::{deal, pipeline, stage, transition};

/// The first pipeline schema.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000002_create_pipeline_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, pipeline::Entity).await?;
        create_from_entity(manager, stage::Entity).await?;
        create_from_entity(manager, deal::Entity).await?;
        create_from_entity(manager, transition::Entity).await?;
        // ListDeals and the board filter by tenant, pipeline and stage, and
        // page by id.
        manager
            .create_index(
                Index::create()
                    .name("deals_tenant_pipeline_stage")
                    .table(deal::Entity)
                    .col(deal::Column::TenantId)
                    .col(deal::Column::PipelineId)
                    .col(deal::Column::StageId)
                    .col(deal::Column::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("deals_tenant_owner")
                    .table(deal::Entity)
                    .col(deal::Column::TenantId)
                    .col(deal::Column::OwnerId)
                    .to_owned(),
            )
            .await
    }
}
