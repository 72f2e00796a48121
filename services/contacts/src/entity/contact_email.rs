//! The `contact_emails` table: its primary key (tenant_id, email) is what
//! makes an email unique among a tenant's contacts.

use sea_orm::entity::prelude::*;

/// One email address of a contact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_emails")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The address, lower case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub email: String,
    /// The contact it belongs to.
    pub contact_id: String,
    /// Its place in the contact's list, from 0.
    pub position: i32,
}

/// No relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
