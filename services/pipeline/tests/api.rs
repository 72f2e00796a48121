//! PipelineService end to end: real gRPC on a random port, a real
//! ContactsService beside it, a fresh database per test, on SQLite always
//! and on PostgreSQL when `CRM_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod api {
    mod bad_input;
    mod board;
    mod deals;
    mod export;
    mod fields;
    pub mod harness;
    mod import;
    mod moves;
    mod pipelines;
    mod replicas;
    mod stalls;
    mod tenancy;
}
