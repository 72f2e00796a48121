//! The tasks domain, free of I/O: requests parsed into valid values (task
//! fields, rule triggers and actions, durations, title templates), and the
//! rules: a task's life (open, done, cancelled; a new due time asks for a
//! new overdue notice), and the task a rule creates when a deal event
//! matches it. Handlers and the automation turn their input into these
//! types and write what they return.

pub mod conditions;
pub mod durations;
pub mod edits;
pub mod firing;
pub mod listing;
pub mod rule;
pub mod task;
pub mod template;

pub use edits::{NewRule, NewTask, RuleFields, RuleUpdate, TaskUpdate};
pub use task::{Priority, TaskStatus};
