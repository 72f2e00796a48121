//! TasksService end to end: real gRPC on random ports, real contacts and
//! pipeline services beside it, the in-process bus for automation, a fresh
//! database per service and test, on SQLite always and on PostgreSQL when
//! `CRM_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod api {
    mod automation;
    pub mod harness;
    mod reminders;
    pub mod rules;
    mod tasks;
}
