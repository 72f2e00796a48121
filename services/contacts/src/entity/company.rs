//! The `companies` table.

use sea_orm::entity::prelude::*;

/// A company of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    /// UUIDv7, so ids sort by creation time (the list order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The name as given.
    pub name: String,
    /// The name in lower case, for case-insensitive prefix search.
    pub name_lower: String,
    /// The web domain, lower case; empty for none.
    pub domain: String,
    /// The owning user.
    pub owner_id: String,
    /// Starts at 1, grows by one per change; the etag.
    pub version: i64,
    /// When it was created.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// The custom values by field key, in their stored forms (see
    /// `crm_fields::value`); an object, empty when there are none.
    #[sea_orm(column_type = "JsonBinary")]
    pub custom_fields: Json,
}

/// No relations are declared: every query names its tenant explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!(versioned "company");

impl crm_tenancy::Owned for Model {
    fn owner(&self) -> &str {
        &self.owner_id
    }
}
