//! Deal RPCs: create (with the contacts check), get, update, delete, list,
//! move, history.

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    settings, time,
    validate::{Violations, new_id, parse_id, parse_target},
};
use crm_proto::{events::v1 as ev, pipeline::v1 as pb};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Pipelines, convert, mask_paths};
use crate::{
    domain::{
        DealStatus, StageKind,
        fields::{DealFields, SETTABLE, parse_date},
    },
    entity::{deal, transition},
    events::{self, stage_ref, types},
    store::{self, deals::DealFilter},
};

impl Pipelines {
    /// The deal `id` on the wire, with its stage's probability.
    async fn deal_reply(&self, conn: &impl ConnectionTrait, tenant: &str, d: &deal::Model) -> ApiResult<pb::Deal> {
        let stages = store::pipelines::stages_by_id(conn, tenant, [d.stage_id.clone()]).await?;
        Ok(convert::deal(d, stages.get(&d.stage_id).map_or(0, |s| s.probability)))
    }

    pub(super) async fn find_deal(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &str,
        id: &str,
    ) -> ApiResult<deal::Model> {
        store::deals::find(conn, tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("deal", id))
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
        let input = req.deal.unwrap_or_default();
        let mut v = Violations::new();
        let pipeline_id = v
            .required_id("deal.pipeline_id", &input.pipeline_id)
            .map(|u| u.to_string());
        let stage_id = v.optional_id("deal.stage_id", &input.stage_id).map(|u| u.to_string());
        let fields = DealFields::parse(&mut v, &input, &SETTABLE);
        let pipeline_id = v.finish_with(pipeline_id)?;
        let tenant = caller.tenant_id.as_str();
        if let Some(key) = &key
            && let Some(id) = key.find(&self.db, tenant).await?
        {
            let existing = self.find_deal(&self.db, tenant, &id).await?;
            return Ok(pb::CreateDealResponse {
                deal: Some(self.deal_reply(&self.db, tenant, &existing).await?),
            });
        }
        let pipeline = store::pipelines::find(&self.db, tenant, &pipeline_id)
            .await?
            .ok_or_else(|| ApiError::not_found("pipeline", &pipeline_id))?;
        let stage = match &stage_id {
            Some(id) => pipeline
                .stage(id)
                .ok_or_else(|| ApiError::invalid("deal.stage_id", "is not a stage of the deal's pipeline"))?,
            None => pipeline
                .stages
                .iter()
                .find(|s| StageKind::from_db(&s.kind) == StageKind::Open)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("pipeline {pipeline_id} has no OPEN stage")))?,
        };
        if StageKind::from_db(&stage.kind) != StageKind::Open {
            return Err(ApiError::invalid(
                "deal.stage_id",
                "a deal starts in an OPEN stage; create it, then move it",
            ));
        }
        self.check_references(&caller, &fields).await?;

        let now = time::now_micros();
        let amount = fields.amount.clone().flatten();
        let created = deal::Model {
            id: new_id().to_string(),
            tenant_id: tenant.to_owned(),
            pipeline_id,
            stage_id: stage.id.clone(),
            status: DealStatus::Open.as_str().to_owned(),
            title: fields.title.clone().unwrap_or_default(),
            amount_minor: amount.as_ref().map(|a| a.minor),
            currency: amount.map(|a| a.currency),
            contact_id: fields.contact_id.clone().flatten(),
            company_id: fields.company_id.clone().flatten(),
            owner_id: fields.owner_id.clone().unwrap_or_else(|| caller.user_id.clone()),
            expected_close_date: fields.expected_close_date.clone().flatten(),
            lost_reason: None,
            stage_entered_at: now,
            closed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let txn = self.db.begin().await?;
        store::deals::insert(&txn, &created).await?;
        store::deals::insert_transition(
            &txn,
            &transition::Model {
                id: new_id().to_string(),
                tenant_id: tenant.to_owned(),
                deal_id: created.id.clone(),
                from_stage_id: None,
                to_stage_id: stage.id.clone(),
                actor_id: caller.user_id.clone(),
                moved_at: now,
                time_in_from_stage: None,
                lost_reason: None,
            },
        )
        .await?;
        if let Some(key) = &key {
            key.remember(&txn, tenant, &created.id).await?;
        }
        let reply = convert::deal(&created, stage.probability);
        let payload = ev::DealCreated {
            deal: Some(reply.clone()),
            stage: Some(stage_ref(stage)),
        };
        events::append(&txn, &caller, types::DEAL_CREATED, &created.id, 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::CreateDealResponse { deal: Some(reply) })
    }

    pub(super) async fn get_deal(&self, caller: Caller, req: pb::GetDealRequest) -> ApiResult<pb::GetDealResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let d = self.find_deal(&self.db, &caller.tenant_id, &id).await?;
        settings::scope(&self.db, &caller)
            .await?
            .check("deal", &id, &d.owner_id)?;
        Ok(pb::GetDealResponse {
            deal: Some(self.deal_reply(&self.db, &caller.tenant_id, &d).await?),
        })
    }

    pub(super) async fn update_deal(
        &self,
        caller: Caller,
        req: pb::UpdateDealRequest,
    ) -> ApiResult<pb::UpdateDealResponse> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.deal.unwrap_or_default();
        let mut v = Violations::new();
        let id = v.required_id("deal.id", &input.id).map(|u| u.to_string());
        let given_etag = v.absorb(etag::parse("deal.etag", &input.etag)).flatten();
        let f = DealFields::parse(&mut v, &input, &paths);
        let id = v.finish_with(id)?;
        let tenant = caller.tenant_id.as_str();
        // Cheap checks first, so a stale or foreign deal is not worth a peer call.
        let before = self.find_deal(&self.db, tenant, &id).await?;
        settings::may_change(&self.db, &caller, "deal", &id, &before.owner_id).await?;
        etag::check("deal", &id, given_etag, before.version)?;
        self.check_references(&caller, &f).await?;

        let txn = self.db.begin().await?;
        let current = self.find_deal(&txn, tenant, &id).await?;
        settings::may_change(&txn, &caller, "deal", &id, &current.owner_id).await?;
        etag::check("deal", &id, given_etag, current.version)?;
        let mut next = current.clone();
        if let Some(title) = f.title {
            next.title = title;
        }
        if let Some(amount) = f.amount {
            next.amount_minor = amount.as_ref().map(|a| a.minor);
            next.currency = amount.map(|a| a.currency);
        }
        if let Some(c) = f.contact_id {
            next.contact_id = c;
        }
        if let Some(c) = f.company_id {
            next.company_id = c;
        }
        if let Some(o) = f.owner_id {
            next.owner_id = o;
        }
        if let Some(d) = f.expected_close_date {
            next.expected_close_date = d;
        }
        next.version += 1;
        next.updated_at = time::now_micros();
        if !store::deals::update_guarded(&txn, &next, current.version).await? {
            return Err(ApiError::Conflict);
        }
        let reply = self.deal_reply(&txn, tenant, &next).await?;
        let changed = paths.iter().map(|p| (*p).to_owned()).collect();
        let payload = ev::DealUpdated {
            deal: Some(reply.clone()),
            changed_fields: changed,
        };
        events::append(&txn, &caller, types::DEAL_UPDATED, &id, next.version, &payload).await?;
        txn.commit().await?;
        Ok(pb::UpdateDealResponse { deal: Some(reply) })
    }

    pub(super) async fn delete_deal(
        &self,
        caller: Caller,
        req: pb::DeleteDealRequest,
    ) -> ApiResult<pb::DeleteDealResponse> {
        let (id, given_etag) = parse_target(&req.id, &req.etag)?;
        let id = id.to_string();
        let tenant = caller.tenant_id.as_str();
        let txn = self.db.begin().await?;
        let current = self.find_deal(&txn, tenant, &id).await?;
        settings::may_change(&txn, &caller, "deal", &id, &current.owner_id).await?;
        etag::check("deal", &id, given_etag, current.version)?;
        store::deals::delete(&txn, tenant, &id).await?;
        let payload = ev::DealDeleted {
            deal_id: id.clone(),
            pipeline_id: current.pipeline_id,
            stage_id: current.stage_id,
        };
        events::append(&txn, &caller, types::DEAL_DELETED, &id, current.version + 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::DeleteDealResponse {})
    }

    pub(super) async fn list_deals(
        &self,
        caller: Caller,
        req: pb::ListDealsRequest,
    ) -> ApiResult<pb::ListDealsResponse> {
        let mut filter = parse_filter(&req)?;
        filter.owner_id = settings::scope(&self.db, &caller).await?.narrow(filter.owner_id);
        let query = filter.fingerprint();
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<String>(req.page_size, &req.page_token, &query)?;
        let tenant = caller.tenant_id.as_str();
        let mut rows = store::deals::list(&self.db, tenant, &filter, page.after.as_deref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &query, |d| d.id.clone());
        let stages = store::pipelines::stages_by_id(&self.db, tenant, rows.iter().map(|d| d.stage_id.clone())).await?;
        let deals = rows
            .iter()
            .map(|d| convert::deal(d, stages.get(&d.stage_id).map_or(0, |s| s.probability)))
            .collect();
        Ok(pb::ListDealsResponse { deals, next_page_token })
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
        let tenant = caller.tenant_id.as_str();
        let d = self.find_deal(&self.db, tenant, &id).await?;
        settings::scope(&self.db, &caller)
            .await?
            .check("deal", &id, &d.owner_id)?;
        let mut rows = store::deals::history(&self.db, tenant, &id, page.after.as_ref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &query, |t| (t.moved_at, t.id.clone()));
        Ok(pb::ListDealHistoryResponse {
            transitions: rows.iter().map(convert::transition).collect(),
            next_page_token,
        })
    }
}

fn parse_filter(req: &pb::ListDealsRequest) -> ApiResult<DealFilter> {
    let mut v = Violations::new();
    let status = match DealStatus::from_proto(req.status) {
        Ok(s) => s.map(DealStatus::as_str),
        Err(_) => {
            v.add("status", "is not a DealStatus value");
            None
        }
    };
    let filter = DealFilter {
        pipeline_id: v.optional_id("pipeline_id", &req.pipeline_id).map(|u| u.to_string()),
        stage_id: v.optional_id("stage_id", &req.stage_id).map(|u| u.to_string()),
        owner_id: (!req.owner_id.is_empty()).then(|| v.user_id("owner_id", &req.owner_id)),
        status,
        close_from: req
            .expected_close_from
            .as_ref()
            .and_then(|d| parse_date(&mut v, "expected_close_from", d)),
        close_to: req
            .expected_close_to
            .as_ref()
            .and_then(|d| parse_date(&mut v, "expected_close_to", d)),
    };
    if let (Some(from), Some(to)) = (&filter.close_from, &filter.close_to)
        && from > to
    {
        v.add("expected_close_to", "must not be before expected_close_from");
    }
    v.finish()?;
    Ok(filter)
}
