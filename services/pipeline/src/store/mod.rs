//! sea-orm queries. Every function takes the caller's [`Tenant`] and starts
//! its query from it ([`Tenant::find`] and friends), and takes
//! `&impl ConnectionTrait` so it runs inside a transaction.
//!
//! [`Tenant`]: crm_kit::tenant::Tenant
//! [`Tenant::find`]: crm_kit::tenant::Tenant::find

pub mod deals;
pub mod pipelines;
