//! AnalyticsService end to end: a hand-made history fed through the
//! projection handler and the kit inbox, then every RPC over real gRPC on a
//! random port, with a fresh database per test, on SQLite always and on
//! PostgreSQL when `CRM_TEST_DATABASE_URL` is set.
//!
//! Every expected number is worked out by hand from the history in
//! `api/history.rs`; the comments there and in `api/checks.rs` show the sums.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod api {
    mod checks;
    mod delivery;
    pub mod harness;
    pub mod history;
    mod reports;
}
