//! `analytics_changes`: the log of which projected rows changed, in commit
//! order, so every replica's in-memory read model can catch up with what any
//! replica's consumer wrote (see [`crate::cache`]).

use sea_orm::entity::prelude::*;

/// What a change touched.
pub mod scope {
    /// One deal: reload its snapshot and its stays.
    pub const DEAL: i32 = 0;
    /// The pipeline's stages: reload them.
    pub const STAGES: i32 = 1;
    /// Everything of the pipeline (after a rebuild): reload it all.
    pub const ALL: i32 = 2;
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_changes")]
pub struct Model {
    /// The position in the log (on SQLite also its commit order).
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// On PostgreSQL, the writing transaction's id (`pg_current_xact_id()`):
    /// a reader that took a snapshot with xmin X before its last read sees
    /// every later commit among the rows with `txid >= X`.
    pub txid: Option<i64>,
    /// The owning tenant.
    pub tenant_id: String,
    /// The pipeline whose read model is stale.
    pub pipeline_id: String,
    /// A [`scope`] value.
    pub scope: i32,
    /// The deal, for [`scope::DEAL`].
    pub deal_id: Option<String>,
    /// When the change was written (µs), for pruning.
    pub at: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
