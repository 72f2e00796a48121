//! `analytics_pipelines`: the version of each projected pipeline, so an
//! older pipeline event never overwrites a newer one.

use sea_orm::entity::prelude::*;

/// A projected pipeline.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_pipelines")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The pipeline's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The aggregate_version of the last applied pipeline event.
    pub version: i64,
    /// Whether the pipeline was deleted (a tombstone, so late events stay dead).
    pub deleted: bool,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
