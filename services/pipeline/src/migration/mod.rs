//! The pipeline service's schema, as ordered migrations.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261127_000002_create_pipeline_tables;
mod m20261127_000003_create_deal_stalls;
mod m20261201_000004_index_deal_pages;
mod m20261201_000005_add_deal_custom_fields;

/// Every migration of the pipeline database, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_kit::migration::CreateKitTables),
            Box::new(m20261127_000002_create_pipeline_tables::Migration),
            Box::new(m20261127_000003_create_deal_stalls::Migration),
            Box::new(crm_kit::migration::IndexPendingOutbox),
            Box::new(crm_tenancy::settings::CreateTenantSettings),
            Box::new(m20261201_000004_index_deal_pages::Migration),
            Box::new(crm_fields::migration::CreateFieldDefinitions),
            Box::new(m20261201_000005_add_deal_custom_fields::Migration),
            Box::new(crm_kit::cache::config_versions::CreateConfigVersions),
        ]
    }
}
