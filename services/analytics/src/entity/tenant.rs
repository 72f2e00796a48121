//! `analytics_tenants`: the tenants whose projections were rebuilt from the
//! pipeline service's export, and (as tenant `*`) whether this database
//! started empty, so every tenant catches up on its first read.

use sea_orm::entity::prelude::*;

/// The row that says the database started empty.
pub const STARTED_EMPTY: &str = "*";

/// A rebuilt tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_tenants")]
pub struct Model {
    /// The tenant, or [`STARTED_EMPTY`].
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// When (µs).
    pub rebuilt_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
