//! A tenant's settings as every service holds them (today: the record
//! visibility). The pipeline service
//! owns them (`PipelineService.UpdateTenantSettings`) and announces each
//! change with `pipeline.tenant.settings_updated`; every other service
//! keeps its own copy from that event (the highest version wins), so each
//! enforces visibility from its own database.

use crm_kit::{migration::create_from_entity, tenant::Tenant};
use crm_proto::{
    common::v1::Visibility,
    events::v1::{EventEnvelope, TenantSettingsUpdated},
};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    sea_query::{Alias, DynIden, Expr, ExprTrait, IntoIden, OnConflict},
};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// The event type (and routing key) of a settings change.
pub const TENANT_SETTINGS_UPDATED: &str = "pipeline.tenant.settings_updated";

/// The binding a consumer adds to receive settings changes.
pub const BINDING: &str = "pipeline.tenant.*";

/// The `tenant_settings` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One tenant's settings.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenant_settings")]
    pub struct Model {
        /// The tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        /// `crm.common.v1.Visibility` as a number.
        pub visibility: i32,
        /// The settings' version (1 for the first change).
        pub version: i64,
        /// When they last changed (µs).
        pub update_time: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A tenant's settings; the defaults (version 0) until an admin changes them.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<entity::Model, DbErr> {
    Ok(entity::Entity::find_by_id(tenant.id())
        .one(conn)
        .await?
        .unwrap_or_else(|| entity::Model {
            tenant_id: tenant.id(),
            visibility: Visibility::Team as i32,
            version: 0,
            update_time: 0,
        }))
}

/// Stores `settings` unless a newer version is stored already.
pub async fn put(conn: &impl ConnectionTrait, settings: entity::Model) -> Result<(), DbErr> {
    use entity::Column;
    let row = entity::ActiveModel {
        tenant_id: Set(settings.tenant_id),
        visibility: Set(settings.visibility),
        version: Set(settings.version),
        update_time: Set(settings.update_time),
    };
    let version = |table: DynIden| Expr::col((table, Column::Version));
    let newer = version(entity::Entity.into_iden()).lt(version(Alias::new("excluded").into_iden()));
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::TenantId)
                .update_columns([Column::Visibility, Column::Version, Column::UpdateTime])
                .action_and_where(newer)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Applies a `pipeline.tenant.settings_updated` event (any other is ignored).
pub async fn apply(conn: &impl ConnectionTrait, event: &EventEnvelope) -> anyhow::Result<()> {
    if event.r#type != TENANT_SETTINGS_UPDATED {
        return Ok(());
    }
    let payload: TenantSettingsUpdated = event
        .payload
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("{} without a payload", event.r#type))?
        .to_msg()?;
    let at = event
        .occurred_at
        .as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000));
    put(
        conn,
        entity::Model {
            tenant_id: event.tenant_id.clone(),
            visibility: payload.visibility,
            version: event.aggregate_version,
            update_time: at,
        },
    )
    .await?;
    Ok(())
}

/// A service's view of its tenants' settings, read from its own table at
/// each call; who may read and change what ([`Settings::scope`]) is
/// decided from it. (The pipeline service keeps versioned copies instead:
/// see its `store::cached`.)
#[derive(Clone, Debug)]
pub struct Settings {
    db: DatabaseConnection,
}

impl Settings {
    /// The settings stored in `db`.
    pub fn stored(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The tenant's settings (the defaults until an admin changes them).
    pub async fn get(&self, tenant: &Tenant) -> Result<entity::Model, DbErr> {
        get(&self.db, tenant).await
    }
}

/// The bus handler of a service that only follows the settings (contacts):
/// it applies `pipeline.tenant.settings_updated` and ignores the rest.
#[derive(Clone, Copy, Debug, Default)]
pub struct Follower;

#[tonic::async_trait]
impl crm_kit::bus::Handler for Follower {
    async fn handle(&self, txn: &sea_orm::DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()> {
        apply(txn, event).await
    }
}

/// Creates `tenant_settings`, every service's copy of its tenants'
/// settings; each service lists it in its `Migrator`.
pub struct CreateTenantSettings;

impl MigrationName for CreateTenantSettings {
    fn name(&self) -> &str {
        "m20261202_000001_create_tenant_settings"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateTenantSettings {
    async fn up(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        create_from_entity(manager, entity::Entity).await
    }
}
