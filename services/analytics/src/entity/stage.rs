//! `analytics_stages`: the stages of each pipeline; removed stages stay
//! (without a position) so history keeps their names.

use sea_orm::entity::prelude::*;

/// A projected stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_stages")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The stage's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The pipeline it belongs to.
    #[sea_orm(indexed)]
    pub pipeline_id: String,
    /// Its place in the board order; `None` once the stage was removed.
    pub position: Option<i32>,
    /// Its name.
    pub name: String,
    /// The `crm.common.v1.StageKind` value.
    pub kind: i32,
    /// Its probability, 0 to 100.
    pub probability: i32,
    /// After how many days an open deal in it is stalled; 0 for never.
    pub rotting_days: i32,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
