//! The `contact_tags` table: one row per tag of a contact.

use sea_orm::entity::prelude::*;

/// One tag of a contact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_tags")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The contact it belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: String,
    /// The tag, lower case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
    /// Its place in the contact's list, from 0.
    pub position: i32,
}

/// No relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
