//! sea-orm entities, one per projection table. Every table is keyed by
//! `(tenant_id, ...)` so one tenant's ids can never collide with another's.

pub mod activity;
pub mod change;
pub mod deal;
pub mod field;
pub mod pipeline;
pub mod stage;
pub mod tenant;
pub mod transition;
