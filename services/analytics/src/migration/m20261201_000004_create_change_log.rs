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
        // Only the primary keys start with the tenant: a lookup of deals by
        // id then takes the key even when the tables were never analyzed
        // (the whole-pipeline loads use the pipeline_id indexes).
        for (name, table) in [
            ("analytics_deals_tenant_pipeline", "analytics_deals"),
            ("analytics_transitions_tenant_pipeline", "analytics_transitions"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
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
        // by transaction id on PostgreSQL, by seq on SQLite (one index each,
        // so the planner cannot walk the other).
        let (name, col) = if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            ("analytics_changes_tenant_pipeline_txid", change::Column::Txid)
        } else {
            ("analytics_changes_tenant_pipeline_seq", change::Column::Seq)
        };
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
