//! `deal_stalls`: the stays already announced as stalled, one row per
//! (deal, stage entry), so each stay is announced once, also with several
//! scanner replicas.

use sea_orm::entity::prelude::*;

/// A stalled stay that was announced.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deal_stalls")]
pub struct Model {
    /// The deal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub deal_id: String,
    /// When the stalled stay began (µs): identifies the stay.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stage_entered_at: i64,
    /// The owning tenant.
    pub tenant_id: String,
    /// The stage of the stay.
    pub stage_id: String,
    /// When the stall was announced (µs).
    pub stalled_at: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
