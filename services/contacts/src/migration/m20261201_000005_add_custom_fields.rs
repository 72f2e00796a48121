//! Gives contacts and companies their custom values: one JSON column each
//! (`jsonb` with a GIN index on PostgreSQL), no column per field.

use sea_orm_migration::prelude::*;

/// Adds `contacts.custom_fields` and `companies.custom_fields`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000005_add_custom_fields"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_fields::migration::add_custom_fields(manager, "companies").await?;
        crm_fields::migration::add_custom_fields(manager, "contacts").await
    }
}
