//! The `contacts` table. Emails and tags live in their own tables so they
//! can be unique and searched; phones are a JSON array on the row.

use sea_orm::entity::prelude::*;

/// A contact of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    /// UUIDv7, so ids sort by creation time (the list order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The first name; may be empty.
    pub first_name: String,
    /// The last name; may be empty.
    pub last_name: String,
    /// The first name in lower case, for search.
    pub first_name_lower: String,
    /// The last name in lower case, for search.
    pub last_name_lower: String,
    /// "first last" in lower case, for search.
    pub full_name_lower: String,
    /// The phone numbers, a JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub phones: String,
    /// The company, if any.
    pub company_id: Option<String>,
    /// The job title; may be empty.
    pub title: String,
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

crm_kit::tenant_scoped!(versioned "contact");
