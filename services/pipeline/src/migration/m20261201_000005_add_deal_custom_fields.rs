//! Gives deals their custom values: one JSON column (`jsonb` with a GIN
//! index on PostgreSQL), no column per field; and indexes a contact's and a
//! company's deals, for ListDeals by contact or company and for
//! GetPurchaseSummary.

use sea_orm_migration::prelude::*;

use crate::entity::deal;

/// Adds `deals.custom_fields`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000005_add_deal_custom_fields"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_fields::migration::add_custom_fields(manager, "deals").await?;
        for (name, column) in [
            ("deals_tenant_contact", deal::Column::ContactId),
            ("deals_tenant_company", deal::Column::CompanyId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(deal::Entity)
                        .col(deal::Column::TenantId)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
