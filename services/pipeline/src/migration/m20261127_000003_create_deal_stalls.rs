//! Creates deal_stalls, which records the stays announced as stalled.

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::stall;

/// Adds stall bookkeeping.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000003_create_deal_stalls"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, stall::Entity).await
    }
}
