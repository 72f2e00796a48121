//! The tasks service's schema, as ordered migrations.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261128_000002_create_tasks_tables;
mod m20261201_000003_add_rule_conditions;

/// Every migration of the tasks database, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_kit::migration::CreateKitTables),
            Box::new(crm_kit::migration::CreateInbox),
            Box::new(m20261128_000002_create_tasks_tables::Migration),
            Box::new(crm_kit::migration::IndexPendingOutbox),
            Box::new(crm_tenancy::settings::CreateTenantSettings),
            Box::new(m20261201_000003_add_rule_conditions::Migration),
        ]
    }
}
