//! The `activities` table. Activities never change once logged, so they
//! carry no version.

use sea_orm::entity::prelude::*;

/// One logged interaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The `crm.common.v1.ActivityKind` number.
    pub kind: i32,
    /// A one-line summary.
    pub subject: String,
    /// The details.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When it happened; the timeline order.
    pub occurred_at: i64,
    /// The user who logged it.
    pub author_id: String,
    /// The contact's timeline it is on.
    pub contact_id: Option<String>,
    /// The company's timeline it is on.
    pub company_id: Option<String>,
    /// The deal's timeline it is on.
    pub deal_id: Option<String>,
    /// When it was logged.
    pub created_at: i64,
}

/// No relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
