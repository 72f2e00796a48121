//! sea-orm queries. Every function takes the caller's [`Tenant`] and starts
//! its query from it ([`Tenant::find`] and friends), and takes
//! `&impl ConnectionTrait` so it runs inside a transaction.
//!
//! [`Tenant`]: crm_kit::tenant::Tenant
//! [`Tenant::find`]: crm_kit::tenant::Tenant::find

pub mod cached;
pub mod deals;
pub mod pipelines;
pub mod seen;

use crm_fields::{Definitions, RecordType};
use crm_kit::tenant::Tenant;
use sea_orm::{ConnectionTrait, DbErr};

/// The tenant's deal field definitions (every state), for checking custom
/// values and showing them.
pub async fn fields(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<Definitions, DbErr> {
    crm_fields::store::load(conn, tenant, RecordType::Deal).await
}
