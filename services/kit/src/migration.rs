//! The kit's own tables (outbox, idempotency keys), as a migration that each
//! service lists in its `Migrator`, so every service database has them.

use sea_orm::{ConnectionTrait, EntityTrait, Schema};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, async_trait, prelude::DbErr};

use crate::{idempotency, outbox};

/// Creates `outbox` and `idempotency_keys`.
pub struct CreateKitTables;

impl MigrationName for CreateKitTables {
    fn name(&self) -> &str {
        "m20261127_000001_create_outbox_and_idempotency_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateKitTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, outbox::entity::Entity).await?;
        create_from_entity(manager, idempotency::entity::Entity).await
    }
}

/// Creates the table of `entity` as the entity defines it today, with the
/// indexes it declares. Only for a table's first migration: a later change
/// to a table gets its own explicit migration, so a migration that ran
/// never changes meaning.
pub async fn create_from_entity<E: EntityTrait>(manager: &SchemaManager<'_>, entity: E) -> Result<(), DbErr> {
    let schema = Schema::new(manager.get_database_backend());
    manager.create_table(schema.create_table_from_entity(entity)).await?;
    for index in schema.create_index_from_entity(entity) {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Creates `processed_events`, the inbox of a service that consumes events.
pub struct CreateInbox;

impl MigrationName for CreateInbox {
    fn name(&self) -> &str {
        "m20261127_000100_create_processed_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateInbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, crate::bus::inbox::entity::Entity).await
    }
}

/// Indexes the outbox rows still to publish, so the relay's poll reads only
/// those (a partial index; PostgreSQL and SQLite both have them).
pub struct IndexPendingOutbox;

impl MigrationName for IndexPendingOutbox {
    fn name(&self) -> &str {
        "m20261201_000002_index_pending_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for IndexPendingOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE published_at IS NULL")
            .await?;
        Ok(())
    }
}
