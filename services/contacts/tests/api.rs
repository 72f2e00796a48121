//! The contacts service over real gRPC on loopback, against a fresh
//! database per test, on SQLite and (with `CRM_TEST_DATABASE_URL`) PostgreSQL.

// A failed unwrap in a test is the test failing, with its location.
#![allow(clippy::unwrap_used)]

#[path = "api/activities.rs"]
mod activities;
#[path = "api/companies.rs"]
mod companies;
#[path = "api/contact_list.rs"]
mod contact_list;
#[path = "api/contacts.rs"]
mod contacts;
#[path = "api/support.rs"]
mod support;
