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
        let txn = self.db.begin().await?;
        let current = store::deals::get(&txn, &tenant, &request.target.id).await?;
        let current = self
            .cached
            .settings
            .changeable(&caller, current, &request.target)
            .await?;
        let pipeline = self.cached.pipeline_at(&txn, &tenant, &current.pipeline_id).await?;
        let moved = apply_move(&current, &pipeline, &request, &caller.user_id, time::now_micros())?;
        store::deals::save_move(&txn, &tenant, &moved, current.version).await?;
        let defs = self.cached.fields(&tenant).await?;
        events::deal_moved(&txn, &caller, &moved, &defs).await?;
        txn.commit().await?;
        Ok(pb::MoveDealResponse {
            deal: Some(convert::deal(&moved.next, moved.to.probability, &defs)),
            transition: Some(convert::transition(&moved.transition)),
        })
    }
}
