//! `analytics_transitions`: every stage a deal entered, one row per
//! (deal, aggregate_version), so duplicates and reordered events are harmless.

use sea_orm::entity::prelude::*;

/// A deal entering a stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_transitions")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The deal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub deal_id: String,
    /// The deal's version after the move.
    #[sea_orm(primary_key, auto_increment = false)]
    pub aggregate_version: i64,
    /// The deal's pipeline (deals never change pipeline).
    #[sea_orm(indexed)]
    pub pipeline_id: String,
    /// The stage it left; unset for the creation.
    pub from_stage_id: Option<String>,
    /// The stage it entered.
    pub to_stage_id: String,
    /// When (µs).
    pub at: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
