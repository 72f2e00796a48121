//! The analytics service's schema, as ordered migrations.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261128_000003_create_projection_tables;
mod m20261201_000004_create_change_log;
mod m20261201_000005_add_custom_fields;

/// Every migration of the analytics database, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_kit::migration::CreateKitTables),
            Box::new(crm_kit::migration::CreateInbox),
            Box::new(m20261128_000003_create_projection_tables::Migration),
            Box::new(m20261201_000004_create_change_log::Migration),
            Box::new(crm_kit::migration::IndexPendingOutbox),
            Box::new(crm_tenancy::settings::CreateTenantSettings),
            Box::new(m20261201_000005_add_custom_fields::Migration),
        ]
    }
}
