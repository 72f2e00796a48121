//! The tasks service: it owns follow-up tasks, their reminders and the
//! automation rules that create tasks when deals move, and answers
//! `crm.tasks.v1.TasksService`.
//!
//! A call goes `grpc` (the handler: parse, transaction, reply) →
//! [`domain`] (the rules: a task's life, what a rule holds and the task it
//! creates; no I/O) → [`store`] (the tenant-scoped queries) and [`events`]
//! (the typed outbox writers, in the change's own transaction). Beside the
//! RPCs run the bus [`automation`] consumer (pipeline and contacts events
//! in, tasks out) and the [`reminders`] scheduler, which fires due
//! reminders and feeds `WatchReminders`. [`convert`] makes wire messages of
//! rows for all of them; [`startup`] builds the whole service.
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod automation;
pub mod convert;
pub mod domain;
pub mod entity;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod pipelines;
pub mod reminders;
pub mod startup;
pub mod store;

pub use crate::pipelines::PipelineDirectory;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.tasks.v1.TasksService";
