//! Deal RPCs: create (with the contacts check), get, update, delete, list,
//! history. MoveDeal is in `moves`.

use crm_kit::{
    ApiResult, auth::Caller, etag::Target, idempotency::RequestKey, tenant::Tenant, time, validate::parse_id,
};
use crm_proto::pipeline::v1 as pb;
use sea_orm::TransactionTrait;

use super::Pipelines;
use crate::{
    convert,
    domain::{DealFilter, DealUpdate, NewDeal, UpdatedDeal, fields::DealFields},
    entity::deal,
    events, store,
    store::seen::Seen,
};

impl Pipelines {
    /// The deal on the wire, with its stage's probability.
    async fn deal_reply(&self, tenant: &Tenant, d: &deal::Model, seen: Seen) -> ApiResult<pb::Deal> {
        let defs = self.cached.fields(tenant, seen).await?;
        let probability = self.cached.probability_of(tenant, d, seen).await?;
        Ok(convert::deal(d, probability, &defs))
    }

    /// Asks ContactsService about the references the change sets.
    async fn check_references(&self, caller: &Caller, f: &DealFields) -> ApiResult<()> {
        if let Some(Some(id)) = &f.contact_id {
            self.contacts.require_contact(caller, "deal.contact_id", id).await?;
        }
        if let Some(Some(id)) = &f.company_id {
            self.contacts.require_company(caller, "deal.company_id", id).await?;
        }
        Ok(())
    }

    pub(super) async fn create_deal(
        &self,
        caller: Caller,
        req: pb::CreateDealRequest,
    ) -> ApiResult<pb::CreateDealResponse> {
        let key = RequestKey::parse("CreateDeal", &req.request_id, &req)?;
        let tenant = Tenant::of(&caller);
        let label = self.cached.label(&caller).await?;
        let (mut new, mut defs, label) = self
            .cached
            .parse_with_fields(&tenant, label, |d| NewDeal::parse(&req, d))
            .await?;
        if let Some(id) = key.created_before(&self.db, &tenant).await? {
            let (existing, seen) = store::deals::get_seen(&self.db, &tenant, &id).await?;
            let deal = Some(self.deal_reply(&tenant, &existing, seen).await?);
            return Ok(pb::CreateDealResponse { deal });
        }
        // The pipeline as it is now, and the version with it: the request
        // is parsed again if the definitions changed meanwhile.
        let (pipeline, seen) = self
            .cached
            .pipeline_now(self.reads(), &tenant, &new.pipeline_id)
            .await?;
        if seen != label {
            defs = self.cached.fields(&tenant, seen).await?;
            new = NewDeal::parse(&req, &defs)?;
        }
        let created = new.create(&tenant, &pipeline, &caller.user_id, time::now_micros())?;
        self.check_references(&caller, &new.fields).await?;
        let txn = self.db.begin().await?;
        store::deals::insert(&txn, &created).await?;
        key.remember(&txn, &tenant, &created.deal.id).await?;
        events::deal_created(&txn, &caller, &created, &defs).await?;
        txn.commit().await?;
        let deal = Some(convert::deal(&created.deal, created.stage.probability, &defs));
        Ok(pb::CreateDealResponse { deal })
    }

    pub(super) async fn get_deal(&self, caller: Caller, req: pb::GetDealRequest) -> ApiResult<pb::GetDealResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let tenant = Tenant::of(&caller);
        let (d, seen) = store::deals::get_seen(self.reads(), &tenant, &id).await?;
        self.cached.scope(&caller, seen).await?.check_record(&d)?;
        Ok(pb::GetDealResponse {
            deal: Some(self.deal_reply(&tenant, &d, seen).await?),
        })
    }

    pub(super) async fn update_deal(
        &self,
        caller: Caller,
        req: pb::UpdateDealRequest,
    ) -> ApiResult<pb::UpdateDealResponse> {
        let update = DealUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        // The checks before the transaction: the deal as the caller's etag
        // names it, then the references (a peer call). The save is guarded
        // by the version read here, so a change in between is ABORTED.
        let (current, seen) = store::deals::get_seen(&self.db, &tenant, &update.target.id).await?;
        let current = self
            .cached
            .scope(&caller, seen)
            .await?
            .changeable(&caller, current, &update.target)?;
        self.check_references(&caller, &update.fields).await?;
        let defs = self.cached.fields(&tenant, seen).await?;
        let UpdatedDeal { next, changed } = update.apply(&current, &defs, time::now_micros())?;
        let probability = self.cached.probability_of(&tenant, &next, seen).await?;
        let txn = self.db.begin().await?;
        store::deals::save(&txn, &tenant, &next, current.version).await?;
        events::deal_updated(&txn, &caller, (&next, probability), changed, &defs).await?;
        txn.commit().await?;
        let deal = Some(convert::deal(&next, probability, &defs));
        Ok(pb::UpdateDealResponse { deal })
    }

    pub(super) async fn delete_deal(
        &self,
        caller: Caller,
        req: pb::DeleteDealRequest,
    ) -> ApiResult<pb::DeleteDealResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        // Read before the transaction; the delete is guarded by this version.
        let (current, seen) = store::deals::get_seen(&self.db, &tenant, &target.id).await?;
        let current = self
            .cached
            .scope(&caller, seen)
            .await?
            .changeable(&caller, current, &target)?;
        let txn = self.db.begin().await?;
        store::deals::delete(&txn, &tenant, &current).await?;
        events::deal_deleted(&txn, &caller, &current).await?;
        txn.commit().await?;
        Ok(pb::DeleteDealResponse {})
    }

    pub(super) async fn list_deals(
        &self,
        caller: Caller,
        req: pb::ListDealsRequest,
    ) -> ApiResult<pb::ListDealsResponse> {
        let tenant = Tenant::of(&caller);
        let tokens = &self.shared.page_tokens;
        // The filter is built from the copies as labelled; the page's query
        // reads the version, and a page read under copies another replica
        // has changed since is read again under the version it saw.
        let mut at = self.cached.label(&caller).await?;
        let mut again = true;
        loop {
            let (mut filter, defs, label) = self
                .cached
                .parse_with_fields(&tenant, at, |d| DealFilter::parse(&req, d))
                .await?;
            filter.owner_id = self.cached.scope(&caller, label).await?.narrow(filter.owner_id);
            let query = filter.fingerprint();
            let page = tokens.parse::<String>(req.page_size, &req.page_token, &query)?;
            let mut rows =
                store::deals::list(self.reads(), &tenant, &filter, page.after.as_deref(), page.size + 1).await?;
            let seen = match rows.first() {
                Some((_, seen)) => *seen,
                None => self.cached.now(&tenant).await?,
            };
            if seen != label && again {
                (at, again) = (seen, false);
                continue;
            }
            let next_page_token = tokens.finish(&mut rows, page.size, &query, |(d, _)| d.id.clone());
            let probabilities = self.cached.probabilities(&tenant, rows.iter().map(first), seen).await?;
            let deals = rows
                .iter()
                .map(|(d, _)| convert::deal(d, probabilities.get(&d.stage_id).copied().unwrap_or(0), &defs))
                .collect();
            return Ok(pb::ListDealsResponse { deals, next_page_token });
        }
    }

    pub(super) async fn list_deal_history(
        &self,
        caller: Caller,
        req: pb::ListDealHistoryRequest,
    ) -> ApiResult<pb::ListDealHistoryResponse> {
        let id = parse_id("deal_id", &req.deal_id)?.to_string();
        let query = format!("history:{id}");
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &query)?;
        let tenant = Tenant::of(&caller);
        let (d, seen) = store::deals::get_seen(self.reads(), &tenant, &id).await?;
        self.cached.scope(&caller, seen).await?.check_record(&d)?;
        let mut rows = store::deals::history(self.reads(), &tenant, &id, page.after.as_ref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &query, |t| (t.moved_at, t.id.clone()));
        Ok(pb::ListDealHistoryResponse {
            transitions: rows.iter().map(convert::transition).collect(),
            next_page_token,
        })
    }
}

/// A listed deal without what was seen with it.
fn first((d, _): &(deal::Model, Seen)) -> &deal::Model {
    d
}
