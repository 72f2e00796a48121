//! Custom fields, the CRM's zero-code customization: an administrator
//! defines fields per tenant and record type (deals in PipelineService,
//! contacts and companies in ContactsService), records carry their values
//! in one JSON column (`jsonb` with a GIN index on PostgreSQL), and lists
//! filter on them. This crate holds what both owning services share: the
//! definitions' rules ([`edit`]), the values' checks ([`value`],
//! [`values`]), filters ([`filter`]), the table ([`entity`],
//! [`migration`]), its queries ([`store`]), the life cycle with its events
//! ([`owner`]) and the purge of deleted fields ([`purge`]).
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod definition;
pub mod edit;
pub mod entity;
pub mod filter;
mod kind;
pub mod migration;
pub mod money;
pub mod owner;
pub mod purge;
pub mod store;
pub mod value;
pub mod values;

pub use definition::{Definition, Definitions};
pub use kind::{FieldType, RecordType, State};
pub use owner::{EventTypes, Owner};
