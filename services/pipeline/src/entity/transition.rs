//! `deal_transitions`: every stage a deal entered, appended, never changed.

use sea_orm::entity::prelude::*;

/// A transition row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deal_transitions")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The deal.
    #[sea_orm(indexed)]
    pub deal_id: String,
    /// The stage left; unset for the creation entry.
    pub from_stage_id: Option<String>,
    /// The stage entered.
    pub to_stage_id: String,
    /// Who moved it.
    pub actor_id: String,
    /// When (µs).
    pub moved_at: i64,
    /// Time spent in the stage left (µs); unset for the creation entry.
    pub time_in_from_stage: Option<i64>,
    /// The reason given with a move to LOST.
    pub lost_reason: Option<String>,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
