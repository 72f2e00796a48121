//! The contact RPCs, merge included.

use crm_kit::{
    ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    settings,
    time::now_micros,
    validate::{parse_id, parse_target},
};
use crm_proto::contacts::v1 as pb;
use sea_orm::TransactionTrait;

use super::Contacts;
use crate::{
    convert,
    domain::{
        contact::{ContactFields, ContactUpdate},
        listing::ContactFilter,
        merge::Merge,
    },
    events,
    store::{activities, contact_list, contacts},
};

pub(super) async fn create(
    svc: &Contacts,
    caller: &Caller,
    req: pb::CreateContactRequest,
) -> ApiResult<pb::CreateContactResponse> {
    let fields = ContactFields::parse(req.contact.as_ref(), &caller.user_id)?;
    let key = RequestKey::parse("CreateContact", &req.request_id, &req)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    if let Some(id) = match &key {
        Some(key) => key.find(&txn, tenant).await?,
        None => None,
    } {
        let record = contacts::get(&txn, tenant, &id).await?;
        return Ok(pb::CreateContactResponse {
            contact: Some(convert::contact(&record)),
        });
    }
    contacts::ensure_valid(&txn, tenant, &fields, None).await?;
    let record = contacts::insert(&txn, tenant, &fields, now_micros()).await?;
    events::contact_created(&txn, caller, &record).await?;
    if let Some(key) = &key {
        key.remember(&txn, tenant, &record.row.id).await?;
    }
    txn.commit().await?;
    Ok(pb::CreateContactResponse {
        contact: Some(convert::contact(&record)),
    })
}

pub(super) async fn get(
    svc: &Contacts,
    caller: &Caller,
    req: pb::GetContactRequest,
) -> ApiResult<pb::GetContactResponse> {
    let id = parse_id("id", &req.id)?;
    let record = contacts::get(&svc.db, &caller.tenant_id, &id.to_string()).await?;
    settings::scope(&svc.db, caller)
        .await?
        .check("contact", &record.row.id, &record.row.owner_id)?;
    Ok(pb::GetContactResponse {
        contact: Some(convert::contact(&record)),
    })
}

pub(super) async fn update(
    svc: &Contacts,
    caller: &Caller,
    req: pb::UpdateContactRequest,
) -> ApiResult<pb::UpdateContactResponse> {
    let update = ContactUpdate::parse(&req)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    let current = contacts::get(&txn, tenant, &update.id.to_string()).await?;
    settings::may_change(&txn, caller, "contact", &current.row.id, &current.row.owner_id).await?;
    etag::check("contact", &current.row.id, update.etag, current.row.version)?;
    let (next, changed) = update.apply(&current.fields)?;
    if changed.is_empty() {
        return Ok(pb::UpdateContactResponse {
            contact: Some(convert::contact(&current)),
        });
    }
    contacts::ensure_valid(&txn, tenant, &next, Some(&current.row.id)).await?;
    let record = contacts::update(&txn, &current, &next, now_micros()).await?;
    events::contact_updated(&txn, caller, &record, changed).await?;
    txn.commit().await?;
    Ok(pb::UpdateContactResponse {
        contact: Some(convert::contact(&record)),
    })
}

pub(super) async fn delete(
    svc: &Contacts,
    caller: &Caller,
    req: pb::DeleteContactRequest,
) -> ApiResult<pb::DeleteContactResponse> {
    let (id, given) = parse_target(&req.id, &req.etag)?;
    let txn = svc.db.begin().await?;
    let current = contacts::get(&txn, &caller.tenant_id, &id.to_string()).await?;
    settings::may_change(&txn, caller, "contact", &current.row.id, &current.row.owner_id).await?;
    etag::check("contact", &current.row.id, given, current.row.version)?;
    contacts::delete(&txn, &current).await?;
    events::contact_deleted(&txn, caller, &current).await?;
    txn.commit().await?;
    Ok(pb::DeleteContactResponse {})
}

pub(super) async fn list(
    svc: &Contacts,
    caller: &Caller,
    req: pb::ListContactsRequest,
) -> ApiResult<pb::ListContactsResponse> {
    let mut filter = ContactFilter::parse(&req)?;
    filter.owner_id = settings::scope(&svc.db, caller).await?.narrow(None);
    let fingerprint = filter.fingerprint();
    let tokens = &svc.shared.page_tokens;
    let page = tokens.parse::<String>(req.page_size, &req.page_token, &fingerprint)?;
    let after = page.after.as_deref();
    let mut records = contact_list::list(&svc.db, &caller.tenant_id, &filter, after, page.size + 1).await?;
    let next_page_token = tokens.finish(&mut records, page.size, &fingerprint, |r| r.row.id.clone());
    Ok(pb::ListContactsResponse {
        contacts: records.iter().map(convert::contact).collect(),
        next_page_token,
    })
}

pub(super) async fn merge(
    svc: &Contacts,
    caller: &Caller,
    req: pb::MergeContactsRequest,
) -> ApiResult<pb::MergeContactsResponse> {
    let merge = Merge::parse(&req)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    let primary = contacts::get(&txn, tenant, &merge.primary_id.to_string()).await?;
    let duplicate = contacts::get(&txn, tenant, &merge.duplicate_id.to_string()).await?;
    // A merge changes both: the caller must see and be allowed to change each.
    for c in [&primary, &duplicate] {
        settings::may_change(&txn, caller, "contact", &c.row.id, &c.row.owner_id).await?;
    }
    etag::check("contact", &primary.row.id, merge.primary_etag, primary.row.version)?;
    let mut merged = primary.fields.clone();
    merged.absorb(&duplicate.fields);
    let moved = activities::repoint(&txn, tenant, &duplicate.row.id, &primary.row.id).await?;
    // The duplicate goes first, so its emails are free for the primary.
    contacts::delete(&txn, &duplicate).await?;
    let record = contacts::update(&txn, &primary, &merged, now_micros()).await?;
    events::contact_merged(&txn, caller, &record, &duplicate, moved).await?;
    txn.commit().await?;
    Ok(pb::MergeContactsResponse {
        contact: Some(convert::contact(&record)),
    })
}
