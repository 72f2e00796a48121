//! The `crm` binary's library: the suite run as the embedded all-in-one
//! process (`crm up`, [`run_suite`]) and as one service per process
//! (`crm serve <service>`, [`run_service`]), and the client commands.
//!
//! Both modes run the very [`Service`](crm_kit::startup::Service)s that each
//! service crate's `startup::build` returns; they differ only in the bus
//! (RabbitMQ, or the in-process bus) and the databases (PostgreSQL per
//! service, or SQLite files). The end-to-end tests start the suite through
//! this library exactly as the binary does.
#![forbid(unsafe_code)]

pub mod backup;
pub mod bench;
pub mod cli;
pub mod client;
pub mod demo;
pub mod dlq;
mod run;
mod service;
mod suite;

pub use crate::{
    run::local_url,
    service::{ServiceConfig, ServiceName, migrate, run_service},
    suite::{SuiteConfig, run_suite},
};
