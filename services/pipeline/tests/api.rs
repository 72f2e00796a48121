//! PipelineService end to end: real gRPC on a random port, a real
//! ContactsService beside it, a fresh database per test, on SQLite always
//! and on PostgreSQL when `CRM_TEST_DATABASE_URL` is set.

mod api {
    pub mod harness;
    mod bad_input;
    mod board;
    mod deals;
    mod pipelines;
    mod tenancy;
}
