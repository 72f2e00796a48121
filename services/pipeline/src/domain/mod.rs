//! The pipeline domain, free of I/O: parsed values (money, dates, stage
//! plans) and the deal state machine. Handlers turn requests into these
//! types; everything here is valid by construction.

pub mod deal;
pub mod fields;
pub mod import;
pub mod money;
pub mod stages;

pub use deal::{DealStatus, MoveEffect, plan_move};
pub use money::Amount;
pub use stages::{StageKind, StagePlan, StageSpec};
