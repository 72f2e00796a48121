//! `rules`: automation rules. The trigger is kept in columns, so the rules
//! an event matches are found by index; the action's lists are JSON.

use sea_orm::entity::prelude::*;

/// A rule row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// A name for people.
    pub name: String,
    /// Whether it fires.
    pub enabled: bool,
    /// `deal_entered_stage`, `deal_created`, `deal_won`, `deal_lost` or `deal_stalled`.
    pub trigger_kind: String,
    /// The trigger's pipeline.
    pub pipeline_id: String,
    /// The trigger's stage (deal_entered_stage only).
    pub stage_id: Option<String>,
    /// The task title template.
    pub title_template: String,
    /// How long after the trigger the task is due (µs).
    pub due_in: i64,
    /// `deal_owner`, `user` or `round_robin`.
    pub assignee_kind: String,
    /// The users: one for `user`, the turn order for `round_robin` (JSON array).
    pub assignee_users: String,
    /// The round-robin turn: how many tasks the rule has assigned so far.
    pub rr_cursor: i64,
    /// The task priority (`crm.tasks.v1.TaskPriority`, never UNSPECIFIED).
    pub priority: i32,
    /// The task reminders, a JSON array of µs before due.
    pub remind_before: String,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
    /// Grows by one per change; the etag.
    pub version: i64,
    /// The conditions: a JSON array of each `RuleCondition`'s protobuf
    /// encoding in base64 (see `domain::conditions`).
    #[sea_orm(column_type = "Text")]
    pub conditions: String,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!(versioned "rule");
