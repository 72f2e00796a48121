//! The pipeline service: it owns pipelines, their stages, deals and every
//! deal's stage history, and answers `crm.pipeline.v1.PipelineService`.
//!
//! A call goes `grpc` (the handler: parse, transaction, reply) →
//! [`domain`] (the rules: the deal state machine, what a stage list may
//! become, which events a change announces; no I/O) → [`store`] (the
//! tenant-scoped queries) and [`events`] (the typed outbox writers, in the
//! change's own transaction). [`convert`] turns rows into wire messages for
//! replies and events alike; [`startup`] builds the whole service.
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod convert;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod stalls;
pub mod startup;
pub mod store;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.pipeline.v1.PipelineService";
