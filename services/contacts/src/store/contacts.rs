//! Queries on `contacts` and its `contact_emails` and `contact_tags`.

use std::collections::HashMap;

use crm_kit::{
    ApiError, ApiResult,
    tenant::{Record, Tenant},
    validate::new_id,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    domain::contact::ContactFields,
    entity::{
        contact::{ActiveModel, Column, Entity, Model},
        contact_email, contact_tag,
    },
};

/// A stored contact: its row, and its fields with emails and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRecord {
    /// The `contacts` row (id, version, times).
    pub row: Model,
    /// The contact's fields, as the domain sees them.
    pub fields: ContactFields,
}

impl Record for ContactRecord {
    const KIND: &'static str = "contact";
    fn record_id(&self) -> &str {
        &self.row.id
    }
    fn version(&self) -> i64 {
        self.row.version
    }
}

impl crm_tenancy::Owned for ContactRecord {
    fn owner(&self) -> &str {
        &self.row.owner_id
    }
}

fn row_values(fields: &ContactFields) -> Result<ActiveModel, DbErr> {
    let phones = serde_json::to_string(&fields.phones).map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(ActiveModel {
        first_name: Set(fields.first_name.clone()),
        last_name: Set(fields.last_name.clone()),
        first_name_lower: Set(fields.first_name.to_lowercase()),
        last_name_lower: Set(fields.last_name.to_lowercase()),
        full_name_lower: Set(fields.full_name_lower()),
        phones: Set(phones),
        company_id: Set(fields.company_id.map(|id| id.to_string())),
        title: Set(fields.title.clone()),
        owner_id: Set(fields.owner_id.clone()),
        custom_fields: Set(fields.custom.clone()),
        ..Default::default()
    })
}

/// Inserts a new contact at version 1 with its emails and tags.
pub async fn insert(
    conn: &(impl ConnectionTrait + TransactionTrait),
    tenant: &Tenant,
    fields: &ContactFields,
    now: i64,
) -> ApiResult<ContactRecord> {
    let id = new_id().to_string();
    let mut values = row_values(fields)?;
    values.id = Set(id.clone());
    values.tenant_id = Set(tenant.id());
    values.version = Set(1);
    values.created_at = Set(now);
    values.updated_at = Set(now);
    Entity::insert(values).exec_without_returning(conn).await?;
    write_emails(conn, tenant, &id, &fields.emails).await?;
    write_tags(conn, tenant, &id, &fields.tags).await?;
    get(conn, tenant, &id).await
}

/// Writes `fields` over `current` as the next version (emails and tags
/// replaced whole); a concurrent change in between is a retryable conflict.
pub async fn update(
    conn: &(impl ConnectionTrait + TransactionTrait),
    tenant: &Tenant,
    current: &ContactRecord,
    fields: &ContactFields,
    now: i64,
) -> ApiResult<ContactRecord> {
    let id = &current.row.id;
    let mut values = row_values(fields)?;
    values.version = Set(current.row.version + 1);
    values.updated_at = Set(now);
    tenant.save_guarded(conn, id, current.row.version, values).await?;
    if fields.emails != current.fields.emails {
        delete_emails(conn, tenant, id).await?;
        write_emails(conn, tenant, id, &fields.emails).await?;
    }
    if fields.tags != current.fields.tags {
        delete_tags(conn, tenant, id).await?;
        write_tags(conn, tenant, id, &fields.tags).await?;
    }
    get(conn, tenant, id).await
}

/// Deletes a contact with its emails and tags if it is still at its version.
pub async fn delete(conn: &impl ConnectionTrait, tenant: &Tenant, current: &ContactRecord) -> ApiResult<()> {
    let id = &current.row.id;
    tenant.delete_guarded::<Entity>(conn, id, current.row.version).await?;
    delete_emails(conn, tenant, id).await?;
    delete_tags(conn, tenant, id).await?;
    Ok(())
}

/// The tenant's contact `id`, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> ApiResult<ContactRecord> {
    find(conn, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact", id))
}

/// The tenant's contact `id`, if it exists.
pub async fn find(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<Option<ContactRecord>, DbErr> {
    let row = tenant.find::<Entity>().filter(Column::Id.eq(id)).one(conn).await?;
    match row {
        Some(row) => Ok(load(conn, tenant, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// ALREADY_EXISTS naming the contact that already uses one of `emails`
/// (other than `except`, the contact being changed).
pub async fn ensure_emails_free(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    emails: &[String],
    except: Option<&str>,
) -> ApiResult<()> {
    if emails.is_empty() {
        return Ok(());
    }
    let mut select = tenant
        .find::<contact_email::Entity>()
        .filter(contact_email::Column::Email.is_in(emails.iter().cloned()));
    if let Some(except) = except {
        select = select.filter(contact_email::Column::ContactId.ne(except));
    }
    match select.order_by_asc(contact_email::Column::Email).one(conn).await? {
        Some(taken) => Err(email_taken(&taken.email, &taken.contact_id)),
        None => Ok(()),
    }
}

fn email_taken(email: &str, contact_id: &str) -> ApiError {
    ApiError::AlreadyExists {
        resource_type: "contact",
        name: contact_id.to_owned(),
        description: format!("email {email} is already used by contact {contact_id}"),
    }
}

async fn write_emails(
    conn: &(impl ConnectionTrait + TransactionTrait),
    tenant: &Tenant,
    id: &str,
    emails: &[String],
) -> ApiResult<()> {
    let rows = emails
        .iter()
        .zip(0..)
        .map(|(email, position)| contact_email::ActiveModel {
            tenant_id: Set(tenant.id()),
            email: Set(email.clone()),
            contact_id: Set(id.to_owned()),
            position: Set(position),
        });
    // A savepoint, so that a unique violation leaves the transaction usable
    // (PostgreSQL aborts it otherwise) for finding who took the address.
    let savepoint = conn.begin().await?;
    match contact_email::Entity::insert_many(rows)
        .exec_without_returning(&savepoint)
        .await
    {
        Ok(_) => Ok(savepoint.commit().await?),
        // Another transaction took an address between our check and this
        // insert: the check's answer, just late.
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            savepoint.rollback().await?;
            ensure_emails_free(conn, tenant, emails, Some(id)).await?;
            Err(ApiError::Conflict)
        }
        Err(err) => Err(err.into()),
    }
}

async fn write_tags(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str, tags: &[String]) -> Result<(), DbErr> {
    let rows = tags.iter().zip(0..).map(|(tag, position)| contact_tag::ActiveModel {
        tenant_id: Set(tenant.id()),
        contact_id: Set(id.to_owned()),
        tag: Set(tag.clone()),
        position: Set(position),
    });
    contact_tag::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

async fn delete_emails(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<(), DbErr> {
    tenant
        .delete::<contact_email::Entity>()
        .filter(contact_email::Column::ContactId.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

async fn delete_tags(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> Result<(), DbErr> {
    tenant
        .delete::<contact_tag::Entity>()
        .filter(contact_tag::Column::ContactId.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds emails and tags to `rows`, keeping their order.
pub(super) async fn load(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    rows: Vec<Model>,
) -> Result<Vec<ContactRecord>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut emails: HashMap<String, Vec<String>> = HashMap::new();
    for e in tenant
        .find::<contact_email::Entity>()
        .filter(contact_email::Column::ContactId.is_in(ids.clone()))
        .order_by_asc(contact_email::Column::Position)
        .all(conn)
        .await?
    {
        emails.entry(e.contact_id).or_default().push(e.email);
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for t in tenant
        .find::<contact_tag::Entity>()
        .filter(contact_tag::Column::ContactId.is_in(ids))
        .order_by_asc(contact_tag::Column::Position)
        .all(conn)
        .await?
    {
        tags.entry(t.contact_id).or_default().push(t.tag);
    }
    rows.into_iter()
        .map(|row| {
            let e = emails.remove(&row.id).unwrap_or_default();
            let t = tags.remove(&row.id).unwrap_or_default();
            assemble(row, e, t)
        })
        .collect()
}

fn assemble(row: Model, emails: Vec<String>, tags: Vec<String>) -> Result<ContactRecord, DbErr> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| DbErr::Custom(format!("contact {} has bad {what}: {e}", row.id));
    let phones: Vec<String> = serde_json::from_str(&row.phones).map_err(|e| corrupt("phones", &e))?;
    let company_id = match row.company_id.as_deref() {
        Some(id) => Some(Uuid::try_parse(id).map_err(|e| corrupt("company_id", &e))?),
        None => None,
    };
    let fields = ContactFields {
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        emails,
        phones,
        company_id,
        title: row.title.clone(),
        tags,
        owner_id: row.owner_id.clone(),
        custom: row.custom_fields.clone(),
    };
    Ok(ContactRecord { row, fields })
}

/// Checks what a contact's fields refer to: its company must exist
/// (FAILED_PRECONDITION) and its emails must not belong to another contact
/// (ALREADY_EXISTS). `except` is the contact being changed.
pub async fn ensure_valid(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    fields: &ContactFields,
    except: Option<&str>,
) -> ApiResult<()> {
    if let Some(company) = fields.company_id {
        super::companies::ensure_exists(conn, tenant, company, "contact.company_id").await?;
    }
    ensure_emails_free(conn, tenant, &fields.emails, except).await
}

/// FAILED_PRECONDITION naming `field` unless the tenant has contact `id`.
pub async fn ensure_exists(conn: &impl ConnectionTrait, tenant: &Tenant, id: Uuid, field: &str) -> ApiResult<()> {
    let found = tenant
        .find::<Entity>()
        .filter(Column::Id.eq(id.to_string()))
        .select_only()
        .column(Column::Id)
        .into_tuple::<String>()
        .one(conn)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::precondition(
            "CONTACT_NOT_FOUND",
            field,
            format!("{field}: contact {id} does not exist"),
        )),
    }
}
