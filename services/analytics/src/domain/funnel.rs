//! The funnel of the OPEN stages over a period, and the period's wins and losses.

use std::collections::BTreeMap;

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{Period, Stage, View, money, rate};

/// How deals flowed through one stage in a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// Distinct deals with a stay in the stage that began in the period.
    pub entered: i64,
    /// Of those, the deals that afterwards entered a later OPEN stage or the WON stage.
    pub advanced: i64,
    /// Of those, the deals whose stay ended by a move to the LOST stage.
    pub lost: i64,
}

impl Flow {
    /// advanced / entered; 0 when nothing entered.
    pub fn conversion_rate(&self) -> f64 {
        rate(self.advanced, self.entered)
    }
}

/// The flow through every board stage (indexed by board position; only the
/// OPEN stages' entries count), in one pass over the deals.
///
/// "Ordered after" means a later board position among OPEN stages: a move
/// to LOST is never an advance, whatever the LOST stage's position.
pub fn flows(v: &View, period: Period) -> Vec<Flow> {
    let h = v.h;
    let kinds = v.kinds();
    let n = kinds.len();
    let mut out = vec![Flow::default(); n];
    // Per deal, reset after it: the first begun stay per position, whether a
    // begun stay there ended in LOST, and the best stage entered after each stay.
    let mut first: Vec<Option<usize>> = vec![None; n];
    let mut lost = vec![false; n];
    let mut touched = Vec::new();
    let mut ahead_after = Vec::new();
    for (_, stays) in v.deals() {
        for (i, st) in stays.iter().enumerate() {
            let Some(p) = h.position(st.stage) else { continue };
            if kinds[p] != StageKind::Open || !period.contains(st.entered) {
                continue;
            }
            if first[p].is_none() {
                first[p] = Some(i);
                touched.push(p);
            }
            let next = stays.get(i + 1).and_then(|nx| h.position(nx.stage));
            if next.is_some_and(|q| kinds[q] == StageKind::Lost) {
                lost[p] = true;
            }
        }
        if touched.is_empty() {
            continue;
        }
        // ahead_after[i]: the highest rank among stays after i, where WON
        // outranks every OPEN stage and an OPEN stage ranks by position.
        ahead_after.clear();
        ahead_after.resize(stays.len(), -1_i64);
        let mut best = -1_i64;
        for i in (0..stays.len()).rev() {
            ahead_after[i] = best;
            let rank = match h.position(stays[i].stage).map(|q| (q, kinds[q])) {
                Some((_, StageKind::Won)) => i64::MAX,
                Some((q, StageKind::Open)) => q as i64,
                _ => -1,
            };
            best = best.max(rank);
        }
        for p in touched.drain(..) {
            let f = &mut out[p];
            f.entered += 1;
            if first[p].is_some_and(|i| ahead_after[i] > p as i64) {
                f.advanced += 1;
            }
            if lost[p] {
                f.lost += 1;
            }
            first[p] = None;
            lost[p] = false;
        }
    }
    out
}

/// The board positions of the OPEN stages.
pub fn open_stages<'a>(v: &View<'a>) -> impl Iterator<Item = (usize, &'a Stage)> + 'a {
    v.stages().iter().enumerate().filter(|(_, s)| s.kind == StageKind::Open)
}

/// GetFunnel over `v`.
pub fn funnel(v: &View, period: Period) -> pb::GetFunnelResponse {
    let flows = flows(v, period);
    let n = v.stages().len();
    let mut current = vec![0_i64; n];
    let mut amounts = vec![BTreeMap::<&str, i128>::new(); n];
    for d in v.open_deals() {
        let Some(p) = v.h.position(d.stage) else { continue };
        current[p] += 1;
        if let Some((c, m)) = &d.amount {
            *amounts[p].entry(c.as_str()).or_default() += i128::from(*m);
        }
    }
    let stages = open_stages(v)
        .map(|(at, s)| {
            let f = flows[at];
            pb::FunnelStage {
                stage_id: s.id.clone(),
                stage_name: s.name.clone(),
                entered: f.entered,
                advanced: f.advanced,
                lost: f.lost,
                conversion_rate: f.conversion_rate(),
                current_count: current[at],
                current_amount: money::totals(&amounts[at]),
            }
        })
        .collect();
    let won = v.closed(DealStatus::Won, move |t| period.contains(t)).count() as i64;
    let lost = v.closed(DealStatus::Lost, move |t| period.contains(t)).count() as i64;
    pb::GetFunnelResponse {
        stages,
        won,
        lost,
        win_rate: rate(won, won + lost),
    }
}
