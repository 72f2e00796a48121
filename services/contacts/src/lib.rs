//! The contacts service: companies, the contacts who work for them, and the
//! timeline of activities (calls, emails, meetings, notes) with them.
//!
//! It owns the `companies`, `contacts`, `contact_emails`, `contact_tags` and
//! `activities` tables (plus the kit's outbox and idempotency keys), and
//! announces every change as a `crm.events.v1` event through the outbox.
//!
//! A call goes `grpc` (the handler: parse, transaction, reply) →
//! [`domain`] (request values and the rules, no I/O) → [`store`] (the
//! tenant-scoped queries) and [`events`] (the typed outbox writers);
//! [`convert`] makes wire messages of rows; [`startup`] builds the service.
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod convert;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod startup;
pub mod store;

/// The fully-qualified gRPC name of the service, for health and routing.
pub const SERVICE_NAME: &str = "crm.contacts.v1.ContactsService";

/// The consumer name (inbox key and queue) of the contacts service: it
/// follows the tenant settings' events.
pub const CONSUMER: &str = "contacts";
