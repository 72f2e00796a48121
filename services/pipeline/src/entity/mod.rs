//! sea-orm entities, one per table. Every table carries `tenant_id`; times
//! are microseconds since the Unix epoch; dates are `YYYY-MM-DD` text.

pub mod deal;
pub mod pipeline;
pub mod stage;
pub mod stall;
pub mod transition;
