//! The change log the in-memory read models follow; the rebuilt tenants;
//! one stage entry per (deal, time, stage), so a live move that a rebuild
//! already brought is not counted twice; an index for the activity counts of
//! a period.

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::{activity, change, tenant, transition};

/// The change log.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000004_create_change_log"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, change::Entity).await?;
        create_from_entity(manager, tenant::Entity).await?;
        manager
            .create_index(
                Index::create()
                    .name("analytics_transitions_one_entry")
                    .table(transition::Entity)
                    .col(transition::Column::TenantId)
                    .col(transition::Column::DealId)
                    .col(transition::Column::At)
                    .col(transition::Column::ToStageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A read model asks for one pipeline's changes after the last it saw:
        // by seq on SQLite, by transaction id on PostgreSQL.
        for (name, col) in [
            ("analytics_changes_tenant_pipeline_seq", change::Column::Seq),
            ("analytics_changes_tenant_pipeline_txid", change::Column::Txid),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(change::Entity)
                        .col(change::Column::TenantId)
                        .col(change::Column::PipelineId)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("analytics_changes_at")
                    .table(change::Entity)
                    .col(change::Column::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("analytics_activities_tenant_time")
                    .table(activity::Entity)
                    .col(activity::Column::TenantId)
                    .col(activity::Column::OccurredAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
