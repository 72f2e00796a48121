//! The tasks domain, free of I/O: parsed task fields, rule specs, title
//! templates and durations. Handlers turn requests into these types.

pub mod durations;
pub mod rule;
pub mod task;
pub mod template;

pub use task::{Priority, TaskStatus};
