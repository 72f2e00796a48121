//! The tenant a query runs for, and the one way to start a query on a
//! tenant's rows: [`Tenant::find`], [`Tenant::update`], [`Tenant::delete`]
//! start from `tenant_id = <this tenant>`, so a store function that takes a
//! [`Tenant`] cannot forget the filter (svix's `secure_find(org_id)`).
//!
//! Every change to a versioned record goes through [`Tenant::save_guarded`]
//! or [`Tenant::delete_guarded`]: written only if the row is still at the
//! version the change was computed from, [`ApiError::Conflict`] otherwise.
//! System jobs that work across tenants (schedulers, scanners) name a
//! tenant per row they read with [`Tenant::of_row`].

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DeleteMany, EntityTrait, IntoActiveModel, QueryFilter, Select,
    UpdateMany,
};

use crate::{ApiError, auth::Caller};

/// A tenant id that came from a verified place: the caller's token, an
/// event's envelope, or a row a system job read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    /// The caller's tenant (the token's `tid`).
    pub fn of(caller: &Caller) -> Self {
        Self(caller.tenant_id.clone())
    }

    /// The tenant an event happened in.
    pub fn of_event(event: &crm_proto::events::v1::EventEnvelope) -> Self {
        Self(event.tenant_id.clone())
    }

    /// The tenant of a row a cross-tenant system job read (its `tenant_id`).
    pub fn of_row(tenant_id: &str) -> Self {
        Self(tenant_id.to_owned())
    }

    /// The id, for rows being written and for logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string, for a new row's `tenant_id`.
    pub fn id(&self) -> String {
        self.0.clone()
    }

    /// `SELECT ... WHERE tenant_id = <this tenant>`.
    pub fn find<E: TenantScoped>(&self) -> Select<E> {
        E::find().filter(E::TENANT.eq(self.as_str()))
    }

    /// `UPDATE ... WHERE tenant_id = <this tenant>`.
    pub fn update<E: TenantScoped>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::TENANT.eq(self.as_str()))
    }

    /// `DELETE ... WHERE tenant_id = <this tenant>`.
    pub fn delete<E: TenantScoped>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::TENANT.eq(self.as_str()))
    }

    /// Writes `values` over the record `id` if it is still at `expected`
    /// (the version the change was computed from); a concurrent change that
    /// got there first is [`ApiError::Conflict`], and nothing is written.
    pub async fn save_guarded<E, A>(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
        expected: i64,
        values: A,
    ) -> Result<(), ApiError>
    where
        E: Versioned,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        let result = self
            .update::<E>()
            .set(values)
            .filter(E::ID.eq(id))
            .filter(E::VERSION.eq(expected))
            .exec(conn)
            .await?;
        guarded(result.rows_affected)
    }

    /// [`Tenant::save_guarded`] with every column of `next`.
    pub async fn save_model_guarded<E, M>(
        &self,
        conn: &impl ConnectionTrait,
        next: &M,
        expected: i64,
    ) -> Result<(), ApiError>
    where
        E: Versioned,
        M: sea_orm::ModelTrait<Entity = E> + IntoActiveModel<E::ActiveModel> + Clone + Record,
        E::ActiveModel: Send,
    {
        let values = next.clone().into_active_model().reset_all();
        self.save_guarded(conn, next.record_id(), expected, values).await
    }

    /// Deletes the record `id` if it is still at `expected`;
    /// [`ApiError::Conflict`] otherwise.
    pub async fn delete_guarded<E: Versioned>(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
        expected: i64,
    ) -> Result<(), ApiError> {
        let result = self
            .delete::<E>()
            .filter(E::ID.eq(id))
            .filter(E::VERSION.eq(expected))
            .exec(conn)
            .await?;
        guarded(result.rows_affected)
    }
}

fn guarded(rows_affected: u64) -> Result<(), ApiError> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(ApiError::Conflict)
    }
}

/// A table whose rows belong to a tenant.
pub trait TenantScoped: EntityTrait {
    /// Its `tenant_id` column.
    const TENANT: Self::Column;
}

/// A table of versioned records: an id and a version that grows by one per
/// change (the etag, and the events' aggregate_version).
pub trait Versioned: TenantScoped {
    /// Its id column.
    const ID: Self::Column;
    /// Its version column.
    const VERSION: Self::Column;
}

/// A stored record as the etag check sees it.
pub trait Record {
    /// The kind of record, as NOT_FOUND and ABORTED name it (`deal`).
    const KIND: &'static str;
    /// Its id.
    fn record_id(&self) -> &str;
    /// Its version.
    fn version(&self) -> i64;
}

/// Implements [`TenantScoped`] (and with `versioned`, [`Versioned`]) for
/// the entity of the module it is invoked in, whose columns are
/// `TenantId`, `Id` and `Version`, and [`Record`] for its model.
#[macro_export]
macro_rules! tenant_scoped {
    () => {
        impl $crate::tenant::TenantScoped for Entity {
            const TENANT: Column = Column::TenantId;
        }
    };
    (versioned $kind:literal) => {
        $crate::tenant_scoped!();
        impl $crate::tenant::Versioned for Entity {
            const ID: Column = Column::Id;
            const VERSION: Column = Column::Version;
        }
        impl $crate::tenant::Record for Model {
            const KIND: &'static str = $kind;
            fn record_id(&self) -> &str {
                &self.id
            }
            fn version(&self) -> i64 {
                self.version
            }
        }
    };
}
