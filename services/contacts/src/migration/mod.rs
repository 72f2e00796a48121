//! The service's schema: the kit's tables first, then this crate's tables,
//! one migration per step, never edited once released.

mod m20261127_000002_create_companies;
mod m20261127_000003_create_contacts;
mod m20261127_000004_create_activities;
mod m20261201_000005_add_custom_fields;

use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager, prelude::*};

/// Runs every migration of the contacts database, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_kit::migration::CreateKitTables),
            Box::new(m20261127_000002_create_companies::Migration),
            Box::new(m20261127_000003_create_contacts::Migration),
            Box::new(m20261127_000004_create_activities::Migration),
            Box::new(crm_kit::migration::IndexPendingOutbox),
            Box::new(crm_tenancy::settings::CreateTenantSettings),
            // Contacts consumes the tenant settings' events.
            Box::new(crm_kit::migration::CreateInbox),
            Box::new(crm_fields::migration::CreateFieldDefinitions),
            Box::new(m20261201_000005_add_custom_fields::Migration),
        ]
    }
}

/// Creates index `name` on `table` over `columns`.
async fn index(manager: &SchemaManager<'_>, name: &str, table: &str, columns: &[&str]) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(Alias::new(table));
    for column in columns {
        stmt.col(Alias::new(*column));
    }
    manager.create_index(stmt).await
}
