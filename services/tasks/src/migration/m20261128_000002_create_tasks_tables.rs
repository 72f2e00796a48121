//! Creates tasks, task_reminders and rules, with the indexes the
//! tenant-scoped queries, the scheduler and the automation use.

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::{reminder, rule, task};

/// The first tasks schema.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000002_create_tasks_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_from_entity(manager, task::Entity).await?;
        create_from_entity(manager, reminder::Entity).await?;
        create_from_entity(manager, rule::Entity).await?;
        // ListTasks pages by (due_at, id) within a tenant.
        manager
            .create_index(
                Index::create()
                    .name("tasks_tenant_due")
                    .table(task::Entity)
                    .col(task::Column::TenantId)
                    .col(task::Column::DueAt)
                    .col(task::Column::Id)
                    .to_owned(),
            )
            .await?;
        // The scheduler looks for open tasks past due.
        manager
            .create_index(
                Index::create()
                    .name("tasks_status_due")
                    .table(task::Entity)
                    .col(task::Column::Status)
                    .col(task::Column::DueAt)
                    .to_owned(),
            )
            .await?;
        // The second guard of exactly-once automation: one task per rule and
        // trigger event, even if the inbox were bypassed.
        manager
            .create_index(
                Index::create()
                    .name("tasks_rule_trigger_unique")
                    .table(task::Entity)
                    .col(task::Column::TenantId)
                    .col(task::Column::RuleId)
                    .col(task::Column::TriggerEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // An event finds the rules of its tenant, kind and pipeline.
        manager
            .create_index(
                Index::create()
                    .name("rules_tenant_trigger")
                    .table(rule::Entity)
                    .col(rule::Column::TenantId)
                    .col(rule::Column::TriggerKind)
                    .col(rule::Column::PipelineId)
                    .to_owned(),
            )
            .await
    }
}
