//! MoveDeal: the deal state machine ([`crate::domain::apply_move`]) applied
//! to the deal as it is now, its transition recorded, and what the domain
//! says the move announces written with it.

use crm_kit::{ApiResult, auth::Caller, tenant::Tenant, time};
use crm_proto::pipeline::v1 as pb;
use sea_orm::TransactionTrait;

use super::Pipelines;
use crate::{
    convert,
    domain::{DealMove, apply_move},
    events, store,
};

impl Pipelines {
    pub(super) async fn move_deal(&self, caller: Caller, req: pb::MoveDealRequest) -> ApiResult<pb::MoveDealResponse> {
        let request = DealMove::parse(&req)?;
        let tenant = Tenant::of(&caller);
        // Everything read before the transaction, which holds only the
        // writes: the save is guarded by the version read here (a change in
        // between is ABORTED), and the pipeline is checked against the
        // versions read with the deal.
        let (current, seen) = store::deals::get_seen(&self.db, &tenant, &request.target.id).await?;
        let scope = self.cached.scope(&caller, seen).await?;
        let current = scope.changeable(&caller, current, &request.target)?;
        let pipeline = self
            .cached
            .pipeline_at(&self.db, &tenant, &current.pipeline_id, seen)
            .await?;
        let moved = apply_move(&current, &pipeline, &request, &caller.user_id, time::now_micros())?;
        let defs = self.cached.fields(&tenant, seen).await?;
        let txn = self.db.begin().await?;
        store::deals::save_move(&txn, &tenant, &moved, current.version).await?;
        events::deal_moved(&txn, &caller, &moved, &defs).await?;
        txn.commit().await?;
        Ok(pb::MoveDealResponse {
            deal: Some(convert::deal(&moved.next, moved.to.probability, &defs)),
            transition: Some(convert::transition(&moved.transition)),
        })
    }
}
