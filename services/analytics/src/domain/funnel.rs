//! The funnel of the OPEN stages over a period, and the period's wins and losses.

use std::collections::BTreeMap;

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{History, Period, Stage, money, rate};

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

/// The flow through the stage at board position `at`.
///
/// "Ordered after" means a later board position among OPEN stages: a move
/// to LOST is never an advance, whatever the LOST stage's position.
pub fn flow(h: &History, at: usize, period: Period) -> Flow {
    let positions = h.positions();
    let stage = &h.stages[at];
    let ahead = |id: &str| {
        positions.get(id).is_some_and(|&p| {
            let s = &h.stages[p];
            s.kind == StageKind::Won || (s.kind == StageKind::Open && p > at)
        })
    };
    let is_lost = |id: &str| h.stage(id).is_some_and(|s| s.kind == StageKind::Lost);
    let mut f = Flow::default();
    for (_, stays) in &h.deals {
        let begun = |i: &usize| stays[*i].stage_id == stage.id && period.contains(stays[*i].entered);
        let Some(first) = (0..stays.len()).find(begun) else {
            continue;
        };
        f.entered += 1;
        if stays[first + 1..].iter().any(|s| ahead(&s.stage_id)) {
            f.advanced += 1;
        }
        let lost = (first..stays.len())
            .filter(begun)
            .any(|i| stays.get(i + 1).is_some_and(|next| is_lost(&next.stage_id)));
        if lost {
            f.lost += 1;
        }
    }
    f
}

/// The board positions of the OPEN stages.
pub fn open_stages(h: &History) -> impl Iterator<Item = (usize, &Stage)> {
    h.stages.iter().enumerate().filter(|(_, s)| s.kind == StageKind::Open)
}

/// GetFunnel over `h`.
pub fn funnel(h: &History, period: Period) -> pb::GetFunnelResponse {
    let stages = open_stages(h)
        .map(|(at, s)| {
            let f = flow(h, at, period);
            let mut amounts = BTreeMap::<String, i128>::new();
            let mut current = 0;
            for d in h.open_deals().filter(|d| d.stage_id == s.id) {
                current += 1;
                if let Some((c, m)) = &d.amount {
                    *amounts.entry(c.clone()).or_default() += i128::from(*m);
                }
            }
            pb::FunnelStage {
                stage_id: s.id.clone(),
                stage_name: s.name.clone(),
                entered: f.entered,
                advanced: f.advanced,
                lost: f.lost,
                conversion_rate: f.conversion_rate(),
                current_count: current,
                current_amount: money::totals(&amounts),
            }
        })
        .collect();
    let won = h.closed(DealStatus::Won, |t| period.contains(t)).count() as i64;
    let lost = h.closed(DealStatus::Lost, |t| period.contains(t)).count() as i64;
    pb::GetFunnelResponse {
        stages,
        won,
        lost,
        win_rate: rate(won, won + lost),
    }
}
