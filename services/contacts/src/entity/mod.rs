//! The sea-orm entities of the service's tables, one module per table.
//! Every table carries `tenant_id`; times are µs since the Unix epoch.

pub mod activity;
pub mod company;
pub mod contact;
pub mod contact_email;
pub mod contact_tag;
