//! Domain changes as `crm.events.v1` payloads, written to the outbox in the
//! change's own transaction: an event exists if and only if its change
//! committed. `aggregate_version` is the record's version after the change
//! (for a delete, the deleted version plus one).

use crm_fields::Definitions;
use crm_kit::{auth::Caller, outbox};
use crm_proto::events::v1 as ev;
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    convert,
    entity::{activity, company},
    store::contacts::ContactRecord,
};

/// `contacts.company.created`.
pub async fn company_created(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    row: &company::Model,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::CompanyCreated {
        company: Some(convert::company(row, defs)),
    };
    outbox::emit(conn, caller, "contacts.company.created", &row.id, row.version, &payload).await
}

/// `contacts.company.updated`, naming the changed fields.
pub async fn company_updated(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    row: &company::Model,
    changed_fields: Vec<String>,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::CompanyUpdated {
        company: Some(convert::company(row, defs)),
        changed_fields,
    };
    outbox::emit(conn, caller, "contacts.company.updated", &row.id, row.version, &payload).await
}

/// `contacts.company.deleted`.
pub async fn company_deleted(conn: &impl ConnectionTrait, caller: &Caller, row: &company::Model) -> Result<(), DbErr> {
    let payload = ev::CompanyDeleted {
        company_id: row.id.clone(),
    };
    outbox::emit(
        conn,
        caller,
        "contacts.company.deleted",
        &row.id,
        row.version + 1,
        &payload,
    )
    .await
}

/// `contacts.contact.created`.
pub async fn contact_created(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    c: &ContactRecord,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::ContactCreated {
        contact: Some(convert::contact(c, defs)),
    };
    outbox::emit(
        conn,
        caller,
        "contacts.contact.created",
        &c.row.id,
        c.row.version,
        &payload,
    )
    .await
}

/// `contacts.contact.updated`, naming the changed fields.
pub async fn contact_updated(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    c: &ContactRecord,
    changed_fields: Vec<String>,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::ContactUpdated {
        contact: Some(convert::contact(c, defs)),
        changed_fields,
    };
    outbox::emit(
        conn,
        caller,
        "contacts.contact.updated",
        &c.row.id,
        c.row.version,
        &payload,
    )
    .await
}

/// `contacts.contact.deleted`.
pub async fn contact_deleted(conn: &impl ConnectionTrait, caller: &Caller, c: &ContactRecord) -> Result<(), DbErr> {
    let payload = ev::ContactDeleted {
        contact_id: c.row.id.clone(),
    };
    outbox::emit(
        conn,
        caller,
        "contacts.contact.deleted",
        &c.row.id,
        c.row.version + 1,
        &payload,
    )
    .await
}

/// `contacts.contact.merged`, then `contacts.contact.deleted` for the duplicate.
pub async fn contact_merged(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    primary: &ContactRecord,
    duplicate: &ContactRecord,
    activities_moved: u64,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::ContactMerged {
        primary: Some(convert::contact(primary, defs)),
        duplicate_id: duplicate.row.id.clone(),
        activities_moved: i64::try_from(activities_moved).unwrap_or(i64::MAX),
    };
    let (id, version) = (&primary.row.id, primary.row.version);
    outbox::emit(conn, caller, "contacts.contact.merged", id, version, &payload).await?;
    contact_deleted(conn, caller, duplicate).await
}

/// `contacts.activity.logged`; an activity never changes, so its version is 1.
pub async fn activity_logged(conn: &impl ConnectionTrait, caller: &Caller, row: &activity::Model) -> Result<(), DbErr> {
    let payload = ev::ActivityLogged {
        activity: Some(convert::activity(row)),
    };
    outbox::emit(conn, caller, "contacts.activity.logged", &row.id, 1, &payload).await
}

/// The contact and company fields' owner: their tables and events (see
/// [`crm_fields::Owner`]).
pub const CONTACT_FIELDS: crm_fields::Owner = crm_fields::Owner {
    records: &[
        (crm_fields::RecordType::Contact, "contacts"),
        (crm_fields::RecordType::Company, "companies"),
    ],
    fallback: None,
    events: crm_fields::EventTypes {
        created: "contacts.field.created",
        updated: "contacts.field.updated",
        archived: "contacts.field.archived",
        deleted: "contacts.field.deleted",
    },
    bumps_config: false,
};
