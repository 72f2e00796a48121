//! The pipeline domain, free of I/O: requests parsed into valid values
//! (money, dates, stage plans, deal fields), and the rules: a pipeline's
//! stage list and how it may change, the deal state machine and the events
//! each move announces, imported histories. Handlers turn requests into
//! these types and write what they return.

pub mod board;
pub mod deal;
pub mod edits;
pub mod fields;
pub mod import;
pub mod listing;
pub mod money;
pub mod pipeline;
pub mod purchases;
pub mod settings;
pub mod stages;

pub use deal::{DealMove, DealStatus, MoveEffect, MoveEvent, Moved, apply_move, plan_move};
pub use edits::{CreatedDeal, DealUpdate, NewDeal, UpdatedDeal};
pub use listing::DealFilter;
pub use money::Amount;
pub use pipeline::{NewPipeline, PipelineChange, PipelineUpdate, PipelineWithStages};
pub use stages::{StageKind, StagePlan, StageSpec};
