//! Gives rules their conditions (see `domain::conditions`): a text column
//! holding a JSON array, `[]` for a rule without conditions. A database
//! whose `rules` table was created from the entity has it already.

use sea_orm_migration::prelude::*;

use crate::entity::rule;

/// Adds `rules.conditions`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000003_add_rule_conditions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("rules", "conditions").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(rule::Entity)
                    .add_column(ColumnDef::new(rule::Column::Conditions).text().not_null().default("[]"))
                    .to_owned(),
            )
            .await
    }
}
