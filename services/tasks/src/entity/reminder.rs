//! `task_reminders`: one row per reminder of a task, claimed by the
//! scheduler when it falls due.

use sea_orm::entity::prelude::*;

/// A reminder row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_reminders")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The task it reminds of.
    #[sea_orm(indexed)]
    pub task_id: String,
    /// When it falls due (µs): the task's due time minus the offset.
    #[sea_orm(indexed)]
    pub remind_at: i64,
    /// When the scheduler fired it (µs); unset while pending.
    pub fired_at: Option<i64>,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
