//! MoveDeal: the deal state machine applied, the transition recorded, and
//! the stage_changed event plus won, lost or reopened where the status changed.

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag, settings, time,
    validate::{Violations, new_id},
};
use crm_proto::{events::v1 as ev, pipeline::v1 as pb};
use sea_orm::TransactionTrait;

use super::{Pipelines, convert};
use crate::{
    domain::{DealStatus, StageKind, plan_move},
    entity::transition,
    events::{self, stage_ref, types},
    store,
};

impl Pipelines {
    pub(super) async fn move_deal(&self, caller: Caller, req: pb::MoveDealRequest) -> ApiResult<pb::MoveDealResponse> {
        let mut v = Violations::new();
        let deal_id = v.required_id("deal_id", &req.deal_id).map(|u| u.to_string());
        let stage_id = v.required_id("stage_id", &req.stage_id).map(|u| u.to_string());
        let given_etag = v.absorb(etag::parse("etag", &req.etag)).flatten();
        let (deal_id, stage_id) = v.finish_with(deal_id.zip(stage_id))?;
        let tenant = caller.tenant_id.as_str();

        let txn = self.db.begin().await?;
        let current = self.find_deal(&txn, tenant, &deal_id).await?;
        settings::may_change(&txn, &caller, "deal", &deal_id, &current.owner_id).await?;
        etag::check("deal", &deal_id, given_etag, current.version)?;
        let pipeline = store::pipelines::find(&txn, tenant, &current.pipeline_id)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("deal {deal_id} has no pipeline")))?;
        let to = pipeline
            .stage(&stage_id)
            .ok_or_else(|| ApiError::invalid("stage_id", "is not a stage of the deal's pipeline"))?;
        let from = pipeline
            .stage(&current.stage_id)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("deal {deal_id} is in an unknown stage")))?;
        let (from_kind, to_kind) = (StageKind::from_db(&from.kind), StageKind::from_db(&to.kind));
        let effect = plan_move(&from.id, from_kind, &to.id, to_kind, &req.lost_reason)?;

        let now = time::now_micros();
        let time_in_from = now - current.stage_entered_at;
        let mut next = current.clone();
        next.stage_id = to.id.clone();
        next.status = effect.status.as_str().to_owned();
        next.lost_reason = effect.lost_reason.clone();
        next.stage_entered_at = now;
        next.closed_at = effect.closes.then_some(now);
        next.version += 1;
        next.updated_at = now;
        if !store::deals::update_guarded(&txn, &next, current.version).await? {
            return Err(ApiError::Conflict);
        }
        let t = transition::Model {
            id: new_id().to_string(),
            tenant_id: tenant.to_owned(),
            deal_id: deal_id.clone(),
            from_stage_id: Some(from.id.clone()),
            to_stage_id: to.id.clone(),
            actor_id: caller.user_id.clone(),
            moved_at: now,
            time_in_from_stage: Some(time_in_from),
            lost_reason: effect.lost_reason.clone(),
        };
        store::deals::insert_transition(&txn, &t).await?;

        let reply = convert::deal(&next, to.probability);
        let (deal, from_ref) = (Some(reply.clone()), Some(stage_ref(from)));
        let changed = ev::DealStageChanged {
            deal: deal.clone(),
            from_stage: from_ref.clone(),
            to_stage: Some(stage_ref(to)),
            amount: reply.amount.clone(),
            time_in_from_stage: Some(time::to_duration(time_in_from)),
            moved_at: Some(time::to_timestamp(now)),
        };
        events::append(
            &txn,
            &caller,
            types::DEAL_STAGE_CHANGED,
            &deal_id,
            next.version,
            &changed,
        )
        .await?;
        match (effect.status, effect.reopens) {
            (DealStatus::Won, _) => {
                let p = ev::DealWon {
                    deal,
                    from_stage: from_ref,
                    stage: Some(stage_ref(to)),
                };
                events::append(&txn, &caller, types::DEAL_WON, &deal_id, next.version, &p).await?;
            }
            (DealStatus::Lost, _) => {
                let p = ev::DealLost {
                    deal,
                    from_stage: from_ref,
                    lost_reason: effect.lost_reason.unwrap_or_default(),
                    stage: Some(stage_ref(to)),
                };
                events::append(&txn, &caller, types::DEAL_LOST, &deal_id, next.version, &p).await?;
            }
            (DealStatus::Open, true) => {
                let p = ev::DealReopened {
                    deal,
                    from_stage: from_ref,
                    stage: Some(stage_ref(to)),
                };
                events::append(&txn, &caller, types::DEAL_REOPENED, &deal_id, next.version, &p).await?;
            }
            (DealStatus::Open, false) => {}
        }
        txn.commit().await?;
        Ok(pb::MoveDealResponse {
            deal: Some(reply),
            transition: Some(convert::transition(&t)),
        })
    }
}
