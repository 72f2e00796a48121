//! The shared runtime of the CRM services: configuration, telemetry,
//! database connect and migrate, the caller's identity from a verified JWT,
//! the error type and its gRPC mapping, paging, etags, request-id
//! idempotency, the transactional outbox, and the server bootstrap.
//!
//! Infrastructure only: no CRM type lives here.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod etag;
pub mod idempotency;
pub mod migration;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod validate;

pub use error::{ApiError, ApiResult};
