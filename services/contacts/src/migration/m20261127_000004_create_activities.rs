//! Creates `activities`, with one timeline index per subject.

use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, prelude::*};

use crate::entity::activity;

/// This migration.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000004_create_activities"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_kit::migration::create_from_entity(manager, activity::Entity).await?;
        // Each timeline reads newest first by (occurred_at, id).
        for subject in ["contact_id", "company_id", "deal_id"] {
            let name = format!("idx_activities_{subject}_timeline");
            let columns = ["tenant_id", subject, "occurred_at", "id"];
            super::index(manager, &name, "activities", &columns).await?;
        }
        Ok(())
    }
}
