//! GetBoard: per stage, in order, the count, the totals and the
//! probability-weighted totals per currency, and the first deals.

use std::collections::BTreeMap;

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    settings,
    validate::{Violations, parse_id},
};
use crm_proto::pipeline::v1 as pb;

use super::{Pipelines, convert};
use crate::{
    domain::money::{to_money, weighted},
    store,
};

/// Deals per column when the caller sends none.
const DEFAULT_DEALS_PER_STAGE: i32 = 20;
/// The most deals per column.
const MAX_DEALS_PER_STAGE: i32 = 100;

/// Per stage: deal count and per-currency totals (minor units).
#[derive(Default)]
struct ColumnTotals {
    count: i64,
    by_currency: BTreeMap<String, i128>,
}

impl Pipelines {
    pub(super) async fn get_board(&self, caller: Caller, req: pb::GetBoardRequest) -> ApiResult<pb::GetBoardResponse> {
        let pipeline_id = parse_id("pipeline_id", &req.pipeline_id)?.to_string();
        let mut v = Violations::new();
        let per_stage = match req.deals_per_stage {
            0 => DEFAULT_DEALS_PER_STAGE,
            n if (1..=MAX_DEALS_PER_STAGE).contains(&n) => n,
            _ => {
                v.add(
                    "deals_per_stage",
                    format!("must be 0 (default {DEFAULT_DEALS_PER_STAGE}) to {MAX_DEALS_PER_STAGE}"),
                );
                0
            }
        };
        let owner = (!req.owner_id.is_empty()).then(|| v.user_id("owner_id", &req.owner_id));
        let owner = settings::scope(&self.db, &caller).await?.narrow(owner);
        v.finish()?;
        let tenant = caller.tenant_id.as_str();
        let pipeline = store::pipelines::find(&self.db, tenant, &pipeline_id)
            .await?
            .ok_or_else(|| ApiError::not_found("pipeline", &pipeline_id))?;

        let mut totals: BTreeMap<String, ColumnTotals> = BTreeMap::new();
        for (stage_id, currency, count, sum) in
            store::deals::board_totals(&self.db, tenant, &pipeline_id, owner.as_deref()).await?
        {
            let column = totals.entry(stage_id).or_default();
            column.count += count;
            if let (Some(currency), Some(sum)) = (currency, sum) {
                *column.by_currency.entry(currency).or_default() += i128::from(sum);
            }
        }
        let mut columns = Vec::with_capacity(pipeline.stages.len());
        for stage in &pipeline.stages {
            let t = totals.remove(&stage.id).unwrap_or_default();
            let deals = store::deals::column(&self.db, tenant, &stage.id, owner.as_deref(), per_stage as u64).await?;
            columns.push(pb::BoardColumn {
                stage: Some(convert::stage(stage)),
                deal_count: t.count,
                total: t.by_currency.iter().map(|(c, m)| to_money(c, *m)).collect(),
                weighted_total: t
                    .by_currency
                    .iter()
                    .map(|(c, m)| to_money(c, weighted(*m, stage.probability)))
                    .collect(),
                deals: deals.iter().map(|d| convert::deal(d, stage.probability)).collect(),
            });
        }
        Ok(pb::GetBoardResponse {
            pipeline: Some(convert::pipeline(&pipeline)),
            columns,
        })
    }
}
