//! A tenant's settings as every service holds them. The pipeline service
//! owns them (`PipelineService.UpdateTenantSettings`) and announces each
//! change with `pipeline.tenant.settings_updated`; every other service
//! keeps its own copy from that event (the highest version wins), so each
//! enforces visibility from its own database.

use crm_proto::{
    common::v1::Visibility,
    events::v1::{EventEnvelope, TenantSettingsUpdated},
};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait,
    sea_query::{Alias, DynIden, Expr, ExprTrait, IntoIden, OnConflict},
};

use crate::{ApiError, auth::Caller};

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
pub async fn get(conn: &impl ConnectionTrait, tenant: &str) -> Result<entity::Model, DbErr> {
    Ok(entity::Entity::find_by_id(tenant.to_owned())
        .one(conn)
        .await?
        .unwrap_or_else(|| entity::Model {
            tenant_id: tenant.to_owned(),
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

/// The bus handler of a service that only follows the settings (contacts):
/// it applies `pipeline.tenant.settings_updated` and ignores the rest.
#[derive(Clone, Copy, Debug, Default)]
pub struct Follower;

#[tonic::async_trait]
impl crate::bus::Handler for Follower {
    async fn handle(&self, txn: &sea_orm::DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()> {
        apply(txn, event).await
    }
}

/// What a caller may read under their tenant's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every record of the tenant.
    All,
    /// Only the records this user owns or is assigned.
    Own(String),
}

impl Scope {
    /// Whether a record owned by (or assigned to) `owner` is in scope.
    pub fn sees(&self, owner: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(user) => owner == user,
        }
    }

    /// NOT_FOUND (as for a record that does not exist) unless a record of
    /// `owner` is in scope.
    pub fn check(&self, kind: &'static str, id: &str, owner: &str) -> Result<(), ApiError> {
        if self.sees(owner) {
            Ok(())
        } else {
            Err(ApiError::not_found(kind, id))
        }
    }

    /// A list's owner filter within the scope: as asked under [`Scope::All`];
    /// otherwise the user's own, and a filter naming another user matches
    /// nothing (no user id holds a space).
    pub fn narrow(&self, requested: Option<String>) -> Option<String> {
        match (self, requested) {
            (Scope::All, requested) => requested,
            (Scope::Own(user), None) => Some(user.clone()),
            (Scope::Own(user), Some(r)) if &r == user => Some(r),
            (Scope::Own(_), Some(_)) => Some(" ".to_owned()),
        }
    }
}

/// What `caller` may read in their tenant: everything under TEAM
/// visibility, and for managers, admins and the suite's own services;
/// under OWNER, a rep's or viewer's own records only.
pub async fn scope(conn: &impl ConnectionTrait, caller: &Caller) -> Result<Scope, ApiError> {
    if ["admin", "manager", "service"]
        .iter()
        .any(|r| caller.roles.iter().any(|c| c == r))
    {
        return Ok(Scope::All);
    }
    let settings = get(conn, &caller.tenant_id).await?;
    Ok(if settings.visibility == Visibility::Owner as i32 {
        Scope::Own(caller.user_id.clone())
    } else {
        Scope::All
    })
}

/// Whether `caller` may change the `kind` record `id` owned by (or
/// assigned to) `owner`: NOT_FOUND when their visibility hides it (a hidden
/// record reads as missing, a change to it too), PERMISSION_DENIED when
/// their role does not let them change it (see [`Caller::may_change`]).
pub async fn may_change(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    kind: &'static str,
    id: &str,
    owner: &str,
) -> Result<(), ApiError> {
    scope(conn, caller).await?.check(kind, id, owner)?;
    caller.may_change(owner)
}
