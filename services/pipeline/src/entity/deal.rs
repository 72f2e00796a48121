//! `deals`: potential sales, each in one stage of one pipeline.

use sea_orm::entity::prelude::*;

/// A deal row.
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deals")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The pipeline.
    #[sea_orm(indexed)]
    pub pipeline_id: String,
    /// The current stage.
    #[sea_orm(indexed)]
    pub stage_id: String,
    /// `open`, `won` or `lost`: the kind of the stage, kept for filtering.
    pub status: String,
    /// The title.
    pub title: String,
    /// The amount in minor units, if any.
    pub amount_minor: Option<i64>,
    /// The amount's ISO 4217 code, if any.
    pub currency: Option<String>,
    /// The contact (a ContactsService id).
    pub contact_id: Option<String>,
    /// The company (a ContactsService id).
    pub company_id: Option<String>,
    /// The owning user.
    pub owner_id: String,
    /// `YYYY-MM-DD`, if any.
    pub expected_close_date: Option<String>,
    /// Set while in the LOST stage.
    pub lost_reason: Option<String>,
    /// When it entered its current stage (µs).
    pub stage_entered_at: i64,
    /// When it was won or lost (µs); unset while open.
    pub closed_at: Option<i64>,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
    /// Grows by one per change; the etag and the events' aggregate_version.
    pub version: i64,
    /// The custom values by field key, in their stored forms (see
    /// `crm_fields::value`); an object, empty when there are none.
    #[sea_orm(column_type = "JsonBinary")]
    pub custom_fields: Json,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!(versioned "deal");

impl crm_tenancy::Owned for Model {
    fn owner(&self) -> &str {
        &self.owner_id
    }
}
