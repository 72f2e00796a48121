//! `analytics_fields`: the analytics service's own copy of each tenant's
//! custom deal fields, from `pipeline.field.*`: enough to check a filter or
//! a group-by and to label the groups.

use sea_orm::entity::prelude::*;

/// A custom deal field as analytics knows it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_fields")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The field's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The `crm.common.v1.FieldType` value.
    pub field_type: i32,
    /// The options, a JSON array of `[id, label]` pairs in order.
    #[sea_orm(column_type = "Text")]
    pub options: String,
    /// The `crm.common.v1.FieldState` value; a deleted field is gone.
    pub state: i32,
    /// The definition's version (the event's aggregate_version).
    pub version: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();

impl Model {
    /// The options as (id, label), in order.
    pub fn option_list(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.options).unwrap_or_default()
    }
}
