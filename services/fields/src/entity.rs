//! `field_definitions`: each tenant's custom fields, per record type. A
//! deleted definition stays as a row (state `deleted`) so its key is never
//! reused; `purged_at` says when its values were gone from every record.

use sea_orm::entity::prelude::*;

/// A definition row.
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "field_definitions")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// `deal`, `contact` or `company`.
    pub record_type: String,
    /// The stable key, unique per tenant and record type.
    pub key: String,
    /// What people see.
    pub label: String,
    /// Help text.
    pub description: String,
    /// The field type (see [`crate::FieldType::as_str`]).
    pub field_type: String,
    /// Whether records must have a value.
    pub required: bool,
    /// Options, bounds, currency and default, as [`crate::definition::Spec`] JSON.
    #[sea_orm(column_type = "JsonBinary")]
    pub spec: Json,
    /// `active`, `archived` or `deleted`.
    pub state: String,
    /// When a deleted field's values were purged from every record (µs).
    pub purged_at: Option<i64>,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
    /// Grows by one per change; the etag.
    pub version: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!(versioned "field definition");
