//! Creates `companies`, with an index for the tenant's name search.

use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, prelude::*};

use crate::entity::company;

/// This migration.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000002_create_companies"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_kit::migration::create_from_entity(manager, company::Entity).await?;
        // Lists page by id within a tenant; search prefixes name and domain.
        super::index(manager, "idx_companies_tenant_id", "companies", &["tenant_id", "id"]).await?;
        super::index(
            manager,
            "idx_companies_tenant_name",
            "companies",
            &["tenant_id", "name_lower"],
        )
        .await?;
        super::index(
            manager,
            "idx_companies_tenant_domain",
            "companies",
            &["tenant_id", "domain"],
        )
        .await
    }
}
