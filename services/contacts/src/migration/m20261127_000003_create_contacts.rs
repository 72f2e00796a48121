//! Creates `contacts`, `contact_emails` and `contact_tags`.

use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, prelude::*};

use crate::entity::{contact, contact_email, contact_tag};

/// This migration.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000003_create_contacts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_kit::migration::create_from_entity(manager, contact::Entity).await?;
        crm_kit::migration::create_from_entity(manager, contact_email::Entity).await?;
        crm_kit::migration::create_from_entity(manager, contact_tag::Entity).await?;
        // Lists page by id within a tenant and filter by company.
        super::index(manager, "idx_contacts_tenant_id", "contacts", &["tenant_id", "id"]).await?;
        super::index(
            manager,
            "idx_contacts_tenant_company",
            "contacts",
            &["tenant_id", "company_id"],
        )
        .await?;
        // A contact's emails are loaded by contact.
        super::index(
            manager,
            "idx_contact_emails_contact",
            "contact_emails",
            &["tenant_id", "contact_id"],
        )
        .await?;
        // The tag filter looks contacts up by tag.
        super::index(manager, "idx_contact_tags_tag", "contact_tags", &["tenant_id", "tag"]).await
    }
}
