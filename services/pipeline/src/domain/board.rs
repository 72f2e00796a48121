//! The board: a pipeline's stages as columns, each with its deal count and
//! its totals per currency, plain and weighted by the stage's probability.

use std::collections::BTreeMap;

use crm_kit::{ApiResult, validate::Violations};
use crm_proto::{common::v1::Money, pipeline::v1 as pb};

use super::money::{to_money, weighted};

/// Deals per column when the caller sends none.
pub const DEFAULT_DEALS_PER_STAGE: i32 = 20;
/// The most deals per column.
pub const MAX_DEALS_PER_STAGE: i32 = 100;

/// A valid GetBoard request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardQuery {
    /// The pipeline.
    pub pipeline_id: String,
    /// How many deals each column lists.
    pub per_stage: u64,
    /// Only this owner's deals.
    pub owner: Option<String>,
}

impl BoardQuery {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::GetBoardRequest) -> ApiResult<Self> {
        let pipeline_id = crm_kit::validate::parse_id("pipeline_id", &req.pipeline_id)?.to_string();
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
        v.finish()?;
        Ok(Self {
            pipeline_id,
            per_stage: u64::try_from(per_stage).unwrap_or_default(),
            owner,
        })
    }
}

/// One column's deal count and per-currency totals (minor units).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnTotals {
    /// How many deals the column holds.
    pub count: i64,
    /// The summed amounts, by currency.
    pub by_currency: BTreeMap<String, i128>,
}

impl ColumnTotals {
    /// The totals per currency.
    pub fn total(&self) -> Vec<Money> {
        self.by_currency.iter().map(|(c, m)| to_money(c, *m)).collect()
    }

    /// The totals per currency weighted by `probability` (percent).
    pub fn weighted(&self, probability: i32) -> Vec<Money> {
        let weigh = |(c, m): (&String, &i128)| to_money(c, weighted(*m, probability));
        self.by_currency.iter().map(weigh).collect()
    }
}

/// The columns' totals from rows of (stage, currency, count, sum), as the
/// store groups them.
pub fn totals(rows: Vec<(String, Option<String>, i64, Option<i64>)>) -> BTreeMap<String, ColumnTotals> {
    let mut totals: BTreeMap<String, ColumnTotals> = BTreeMap::new();
    for (stage_id, currency, count, sum) in rows {
        let column = totals.entry(stage_id).or_default();
        column.count += count;
        if let (Some(currency), Some(sum)) = (currency, sum) {
            *column.by_currency.entry(currency).or_default() += i128::from(sum);
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_sums_each_currency_and_counts_deals_without_an_amount() {
        let rows = vec![
            ("a".into(), Some("EUR".into()), 2, Some(1_000)),
            ("a".into(), None, 1, None),
            ("a".into(), Some("USD".into()), 1, Some(500)),
        ];
        let t = &totals(rows)["a"];
        assert_eq!(t.count, 4);
        assert_eq!(t.weighted(50).iter().map(|m| m.units).collect::<Vec<_>>(), [5, 2]);
    }
}
