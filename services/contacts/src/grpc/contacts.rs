//! The contact RPCs, merge included.

use crm_fields::RecordType;
use crm_kit::{
    ApiResult, auth::Caller, etag::Target, idempotency::RequestKey, tenant::Tenant, time::now_micros,
    validate::parse_id,
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
    store::{self, activities, contact_list, contacts},
};

impl Contacts {
    pub(super) async fn create_contact(
        &self,
        caller: Caller,
        req: pb::CreateContactRequest,
    ) -> ApiResult<pb::CreateContactResponse> {
        let key = RequestKey::parse("CreateContact", &req.request_id, &req)?;
        let tenant = Tenant::of(&caller);
        let defs = store::fields(&self.db, &tenant, RecordType::Contact).await?;
        let fields = ContactFields::parse(req.contact.as_ref(), &caller.user_id, &defs)?;
        let txn = self.db.begin().await?;
        if let Some(id) = key.created_before(&txn, &tenant).await? {
            let record = contacts::get(&txn, &tenant, &id).await?;
            let contact = Some(convert::contact(&record, &defs));
            return Ok(pb::CreateContactResponse { contact });
        }
        contacts::ensure_valid(&txn, &tenant, &fields, None).await?;
        let record = contacts::insert(&txn, &tenant, &fields, now_micros()).await?;
        events::contact_created(&txn, &caller, &record, &defs).await?;
        key.remember(&txn, &tenant, &record.row.id).await?;
        txn.commit().await?;
        let contact = Some(convert::contact(&record, &defs));
        Ok(pb::CreateContactResponse { contact })
    }

    pub(super) async fn get_contact(
        &self,
        caller: Caller,
        req: pb::GetContactRequest,
    ) -> ApiResult<pb::GetContactResponse> {
        let id = parse_id("id", &req.id)?;
        let tenant = Tenant::of(&caller);
        let record = contacts::get(&self.db, &tenant, &id.to_string()).await?;
        self.settings.scope(&caller).await?.check_record(&record)?;
        let defs = store::fields(&self.db, &tenant, RecordType::Contact).await?;
        let contact = Some(convert::contact(&record, &defs));
        Ok(pb::GetContactResponse { contact })
    }

    pub(super) async fn update_contact(
        &self,
        caller: Caller,
        req: pb::UpdateContactRequest,
    ) -> ApiResult<pb::UpdateContactResponse> {
        let update = ContactUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = contacts::get(&txn, &tenant, &update.target.id).await?;
        let current = scope.changeable(&caller, current, &update.target)?;
        let defs = store::fields(&txn, &tenant, RecordType::Contact).await?;
        let (next, changed) = update.apply(&current.fields, &defs)?;
        if changed.is_empty() {
            let contact = Some(convert::contact(&current, &defs));
            return Ok(pb::UpdateContactResponse { contact });
        }
        contacts::ensure_valid(&txn, &tenant, &next, Some(&current.row.id)).await?;
        let record = contacts::update(&txn, &tenant, &current, &next, now_micros()).await?;
        events::contact_updated(&txn, &caller, &record, changed, &defs).await?;
        txn.commit().await?;
        let contact = Some(convert::contact(&record, &defs));
        Ok(pb::UpdateContactResponse { contact })
    }

    pub(super) async fn delete_contact(
        &self,
        caller: Caller,
        req: pb::DeleteContactRequest,
    ) -> ApiResult<pb::DeleteContactResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = contacts::get(&txn, &tenant, &target.id).await?;
        let current = scope.changeable(&caller, current, &target)?;
        contacts::delete(&txn, &tenant, &current).await?;
        events::contact_deleted(&txn, &caller, &current).await?;
        txn.commit().await?;
        Ok(pb::DeleteContactResponse {})
    }

    pub(super) async fn list_contacts(
        &self,
        caller: Caller,
        req: pb::ListContactsRequest,
    ) -> ApiResult<pb::ListContactsResponse> {
        let tenant = Tenant::of(&caller);
        let defs = store::fields(&self.db, &tenant, RecordType::Contact).await?;
        let mut filter = ContactFilter::parse(&req, &defs)?;
        filter.owner_id = self.settings.scope(&caller).await?.narrow(None);
        let fingerprint = filter.fingerprint();
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<String>(req.page_size, &req.page_token, &fingerprint)?;
        let after = page.after.as_deref();
        let mut records = contact_list::list(&self.db, &tenant, &filter, after, page.size + 1).await?;
        let next_page_token = tokens.finish(&mut records, page.size, &fingerprint, |r| r.row.id.clone());
        Ok(pb::ListContactsResponse {
            contacts: records.iter().map(|r| convert::contact(r, &defs)).collect(),
            next_page_token,
        })
    }

    pub(super) async fn merge_contacts(
        &self,
        caller: Caller,
        req: pb::MergeContactsRequest,
    ) -> ApiResult<pb::MergeContactsResponse> {
        let merge = Merge::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let primary = contacts::get(&txn, &tenant, &merge.primary.id).await?;
        let duplicate = contacts::get(&txn, &tenant, &merge.duplicate_id.to_string()).await?;
        // A merge changes both: the caller must see and be allowed to change each.
        for c in [&primary, &duplicate] {
            scope.may_change(&caller, "contact", &c.row.id, &c.row.owner_id)?;
        }
        merge.primary.check(&primary)?;
        let defs = store::fields(&txn, &tenant, RecordType::Contact).await?;
        let merged = merge.merged(&primary.fields, &duplicate.fields);
        let moved = activities::repoint(&txn, &tenant, &duplicate.row.id, &primary.row.id).await?;
        // The duplicate goes first, so its emails are free for the primary.
        contacts::delete(&txn, &tenant, &duplicate).await?;
        let record = contacts::update(&txn, &tenant, &primary, &merged, now_micros()).await?;
        events::contact_merged(&txn, &caller, &record, &duplicate, moved, &defs).await?;
        txn.commit().await?;
        let contact = Some(convert::contact(&record, &defs));
        Ok(pb::MergeContactsResponse { contact })
    }
}
