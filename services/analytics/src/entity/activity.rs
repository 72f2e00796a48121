//! `analytics_activities`: who logged an activity and when, for owner performance.

use sea_orm::entity::prelude::*;

/// A logged activity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_activities")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The activity's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who logged it.
    #[sea_orm(indexed)]
    pub author_id: String,
    /// When it happened (µs).
    pub occurred_at: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
