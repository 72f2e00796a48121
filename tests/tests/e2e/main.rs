//! End-to-end tests of the suite, through the generated clients only: as
//! `crm up` runs it (SQLite always, PostgreSQL when `CRM_TEST_DATABASE_URL`
//! is set), and as separate services on RabbitMQ (`CRM_TEST_AMQP_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod analytics;
mod automation;
mod backup;
mod bench;
mod broker_restart;
mod client;
mod demo;
mod distributed;
mod embedded;
mod faults;
mod fields;
mod gateway;
mod harness;
mod hostile;
mod metrics;
mod security;
mod topology;
mod tracing;
