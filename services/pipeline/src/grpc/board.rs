//! GetBoard: per stage, in order, the count, the totals and the
//! probability-weighted totals per currency, and the first deals; and
//! GetPurchaseSummary, the same sums over one customer's deals.

use crm_kit::{ApiResult, auth::Caller, tenant::Tenant};
use crm_proto::pipeline::v1 as pb;

use super::Pipelines;
use crate::{
    convert,
    domain::{
        board::{BoardQuery, totals},
        purchases::{Customer, summary},
    },
    store,
};

impl Pipelines {
    pub(super) async fn get_purchase_summary(
        &self,
        caller: Caller,
        req: pb::GetPurchaseSummaryRequest,
    ) -> ApiResult<pb::GetPurchaseSummaryResponse> {
        let customer = Customer::parse(&req)?;
        let owner = self.scope_now(&caller).await?.narrow(None);
        let tenant = Tenant::of(&caller);
        let groups = store::deals::purchase_groups(self.reads(), &tenant, &customer, owner.as_deref()).await?;
        Ok(summary(groups))
    }

    pub(super) async fn get_board(&self, caller: Caller, req: pb::GetBoardRequest) -> ApiResult<pb::GetBoardResponse> {
        let query = BoardQuery::parse(&req)?;
        let owner = self.scope_now(&caller).await?.narrow(query.owner);
        let tenant = Tenant::of(&caller);
        let pipeline = store::pipelines::get(self.reads(), &tenant, &query.pipeline_id).await?;
        let rows = store::deals::board_totals(self.reads(), &tenant, &query.pipeline_id, owner.as_deref()).await?;
        let mut totals = totals(rows);
        let defs = store::fields(self.reads(), &tenant).await?;
        let mut columns = Vec::with_capacity(pipeline.stages.len());
        for stage in &pipeline.stages {
            let t = totals.remove(&stage.id).unwrap_or_default();
            let deals =
                store::deals::column(self.reads(), &tenant, &stage.id, owner.as_deref(), query.per_stage).await?;
            columns.push(pb::BoardColumn {
                stage: Some(convert::stage(stage)),
                deal_count: t.count,
                total: t.total(),
                weighted_total: t.weighted(stage.probability),
                deals: deals
                    .iter()
                    .map(|d| convert::deal(d, stage.probability, &defs))
                    .collect(),
            });
        }
        Ok(pb::GetBoardResponse {
            pipeline: Some(convert::pipeline(&pipeline)),
            columns,
        })
    }
}
