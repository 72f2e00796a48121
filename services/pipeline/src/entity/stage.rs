//! `stages`: the ordered steps of a pipeline.

use sea_orm::entity::prelude::*;

/// A stage row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stages")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The pipeline it belongs to.
    #[sea_orm(indexed)]
    pub pipeline_id: String,
    /// Board order, 0-based.
    pub position: i32,
    /// The name.
    pub name: String,
    /// 0 to 100.
    pub probability: i32,
    /// `open`, `won` or `lost`.
    pub kind: String,
    /// Days after which an open deal is stalled; 0 for never.
    pub rotting_days: i32,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
