//! `tasks`: follow-ups to do, by hand or created by a rule.

use sea_orm::entity::prelude::*;

/// A task row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// What to do.
    pub title: String,
    /// Details.
    pub notes: String,
    /// When it is due (µs).
    pub due_at: i64,
    /// Who does it.
    pub assignee_id: String,
    /// The `crm.tasks.v1.TaskPriority` value, never UNSPECIFIED.
    pub priority: i32,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// The deal it is about (a PipelineService id), if any.
    #[sea_orm(indexed)]
    pub deal_id: Option<String>,
    /// The contact it is about (a ContactsService id), if any.
    #[sea_orm(indexed)]
    pub contact_id: Option<String>,
    /// The rule that created it, if any.
    pub rule_id: Option<String>,
    /// The event that made the rule fire, if any.
    pub trigger_event_id: Option<String>,
    /// The reminders, as a JSON array of µs before `due_at`.
    pub remind_before: String,
    /// Whether the overdue event was sent.
    pub overdue_notified: bool,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
    /// Completed (µs); set only when done.
    pub completed_at: Option<i64>,
    /// Grows by one per change; the etag and the events' aggregate_version.
    pub version: i64,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!(versioned "task");

/// A task's "owner", for visibility and the role check, is its assignee.
impl crm_tenancy::Owned for Model {
    fn owner(&self) -> &str {
        &self.assignee_id
    }
}
