//! The copy of the custom deal fields (`analytics_fields`) and each
//! projected deal's select values (`analytics_deals.fields`, already there
//! when the table was created from the entity).

use crm_kit::migration::create_from_entity;
use sea_orm_migration::prelude::*;

use crate::entity::{deal, field};

/// Adds `analytics_fields` and `analytics_deals.fields`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000005_add_custom_fields"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_table("analytics_fields").await? {
            create_from_entity(manager, field::Entity).await?;
        }
        if manager.has_column("analytics_deals", "fields").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(deal::Entity)
                    .add_column(ColumnDef::new(deal::Column::Fields).text().not_null().default("{}"))
                    .to_owned(),
            )
            .await
    }
}
