//! sea-orm entities, one per table of the tasks database.

pub mod reminder;
pub mod rule;
pub mod task;
