//! The analytics service: it keeps its own projections of pipeline and
//! contacts events (stages, deal snapshots, stage transitions, activities)
//! and answers `crm.analytics.v1.AnalyticsService` from them: the funnel,
//! time in stage, velocity, bottlenecks, owner performance and the forecast.
//!
//! Events come in through the bus [`projection`] consumer, which writes the
//! projection rows and a change log in one transaction. A read goes `grpc`
//! (parse, the caller's visibility) → [`cache`] (the pipeline's read model
//! in memory, brought up to date from the change log) → [`domain`] (each
//! report a pure function over it). [`store`] holds the tenant-scoped reads;
//! [`catch_up`] and [`rebuild`] replay the pipeline service's export;
//! [`pruning`] trims the change log on a timer; [`startup`] builds the whole
//! service.
#![forbid(unsafe_code)]

pub mod cache;
pub mod catch_up;
pub mod domain;
pub mod entity;
pub mod grpc;
pub mod migration;
pub mod projection;
pub mod pruning;
pub mod rebuild;
pub mod source;
pub mod startup;
pub mod store;

/// The fully-qualified gRPC name, for health and routing.
pub const SERVICE_NAME: &str = "crm.analytics.v1.AnalyticsService";
