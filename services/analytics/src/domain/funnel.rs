//! The funnel of the OPEN stages over a period, and the period's wins and losses.

use std::collections::BTreeMap;

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{Deal, Key, Period, Stage, Stay, View, money, rate};

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

/// How deals flowed through every board stage (indexed by board position;
/// only the OPEN stages' entries count), counted deal by deal.
///
/// "Ordered after" means a later board position among OPEN stages: a move
/// to LOST is never an advance, whatever the LOST stage's position.
pub struct Flows<'a> {
    h: &'a super::History,
    period: Period,
    // Per stage key, its rank: an OPEN stage ranks by board position, WON
    // above them all; LOST and stages off the board rank below.
    ranks: Vec<i32>,
    /// The flows so far, by board position.
    pub out: Vec<Flow>,
}

/// The rank of the WON stage.
const WON: i32 = i32::MAX;
/// The rank of the LOST stage.
const LOST: i32 = -2;
/// The rank of a stage off the board.
const OFF: i32 = -1;

impl<'a> Flows<'a> {
    /// Adds what `other` counted.
    pub fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.out.iter_mut().zip(other.out) {
            a.entered += b.entered;
            a.advanced += b.advanced;
            a.lost += b.lost;
        }
        self
    }

    /// Nothing counted yet.
    pub fn new(v: &View<'a>, period: Period) -> Self {
        let h = v.h;
        let ranks = (0..h.board.len())
            .map(|key| match h.stage(key as Key).map(|s| s.kind) {
                // The pipeline service allows 50 stages, so every OPEN
                // stage's position fits the 64-bit masks of `add`.
                Some(StageKind::Open) => h.position(key as Key).filter(|&p| p < 64).map_or(OFF, |p| p as i32),
                Some(StageKind::Won) => WON,
                Some(StageKind::Lost) => LOST,
                _ => OFF,
            })
            .collect();
        Self {
            h,
            period,
            ranks,
            out: vec![Flow::default(); v.stages().len()],
        }
    }

    /// Counts one deal in one walk over its stays, in order (the arena's
    /// order, which the memory prefetcher follows).
    pub fn add(&mut self, d: &super::Deal, stays: &[super::Stay]) {
        let period = self.period;
        // No stay of it began in the period.
        if d.last_entered < period.from || d.first_entered >= period.to {
            return;
        }
        // Bit p: a stay at OPEN position p began in the period; a better
        // rank was entered after one of them; one of them ended in LOST.
        let (mut entered, mut advanced, mut lost) = (0_u64, 0_u64, 0_u64);
        // The bit of the previous stay, if it was one of those.
        let mut previous = 0_u64;
        for st in stays {
            let rank = self.ranks.get(st.stage as usize).copied().unwrap_or(OFF);
            // Entering a stage advances every stage of lower rank entered before.
            if rank > 0 {
                let below = if rank >= 64 { u64::MAX } else { (1_u64 << rank) - 1 };
                advanced |= entered & below;
            }
            if rank == LOST {
                lost |= previous;
            }
            previous = 0;
            if (0..WON).contains(&rank) && period.contains(st.entered) {
                previous = 1_u64 << rank;
                entered |= previous;
            }
        }
        while entered != 0 {
            let p = entered.trailing_zeros() as usize;
            let bit = 1_u64 << p;
            entered &= !bit;
            let f = &mut self.out[p];
            f.entered += 1;
            f.advanced += i64::from(advanced & bit != 0);
            f.lost += i64::from(lost & bit != 0);
        }
    }
}

/// The board positions of the OPEN stages.
pub fn open_stages<'a>(v: &View<'a>) -> impl Iterator<Item = (usize, &'a Stage)> + 'a {
    v.stages().iter().enumerate().filter(|(_, s)| s.kind == StageKind::Open)
}

/// What GetFunnel counts: sums over the deals in view, so that a deal's
/// share can be taken out and put back when it changes (the read models
/// keep the counts of recent funnels current this way, see
/// [`super::kept`]) and the result is the same as counting again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    flows: Vec<Flow>,
    current: Vec<i64>,
    // Per board position and currency: open deals and their amount.
    amounts: Vec<BTreeMap<Key, (i64, i128)>>,
    won: i64,
    lost: i64,
}

impl Counts {
    fn new(n: usize) -> Self {
        Self {
            flows: vec![Flow::default(); n],
            current: vec![0; n],
            amounts: vec![BTreeMap::new(); n],
            won: 0,
            lost: 0,
        }
    }

    /// Adds what `other` counted (`sign` 1), or takes it out (`sign` -1).
    pub fn add(&mut self, other: &Self, sign: i64) {
        for (a, b) in self.flows.iter_mut().zip(&other.flows) {
            a.entered += sign * b.entered;
            a.advanced += sign * b.advanced;
            a.lost += sign * b.lost;
        }
        for (a, b) in self.current.iter_mut().zip(&other.current) {
            *a += sign * b;
        }
        for (a, b) in self.amounts.iter_mut().zip(&other.amounts) {
            for (c, (n, m)) in b {
                let e = a.entry(*c).or_default();
                *e = (e.0 + sign * n, e.1 + i128::from(sign) * m);
                if e.0 == 0 {
                    a.remove(c);
                }
            }
        }
        self.won += sign * other.won;
        self.lost += sign * other.lost;
    }
}

/// What GetFunnel counts in one pass.
struct Tally<'a> {
    flows: Flows<'a>,
    counts: Counts,
}

impl<'a> Tally<'a> {
    fn new(v: &View<'a>, period: Period) -> Self {
        Self {
            flows: Flows::new(v, period),
            counts: Counts::new(v.stages().len()),
        }
    }

    fn add(&mut self, d: &Deal, stays: &[Stay]) {
        self.flows.add(d, stays);
        let (c, period) = (&mut self.counts, self.flows.period);
        match d.status {
            DealStatus::Open => {
                let Some(p) = self.flows.h.position(d.stage) else {
                    return;
                };
                c.current[p] += 1;
                if let Some((currency, m)) = d.amount() {
                    let e = c.amounts[p].entry(currency).or_default();
                    *e = (e.0 + 1, e.1 + i128::from(m));
                }
            }
            DealStatus::Won if d.closed_at.is_some_and(|t| period.contains(t)) => c.won += 1,
            DealStatus::Lost if d.closed_at.is_some_and(|t| period.contains(t)) => c.lost += 1,
            _ => {}
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.flows = self.flows.merge(other.flows);
        self.counts.add(&other.counts, 1);
        self
    }

    fn finish(self) -> Counts {
        Counts {
            flows: self.flows.out,
            ..self.counts
        }
    }
}

/// What GetFunnel counts over `v` in `period`.
pub fn counts(v: &View<'_>, period: Period) -> Counts {
    v.fold(|| Tally::new(v, period), Tally::add, Tally::merge).finish()
}

/// What the deal `id` adds to [`counts`] over `v` (nothing when it is not in view).
pub fn deal_counts(v: &View<'_>, period: Period, id: &str) -> Counts {
    let mut t = Tally::new(v, period);
    if let Some((d, stays)) = v.deal(id) {
        t.add(d, stays);
    }
    t.finish()
}

/// The GetFunnel reply of `c`, counted over `v`.
pub fn reply(v: &View<'_>, c: &Counts) -> pb::GetFunnelResponse {
    let stages = open_stages(v)
        .map(|(at, s)| {
            let f = c.flows[at];
            let sums: BTreeMap<Key, i128> = c.amounts[at].iter().map(|(k, (_, m))| (*k, *m)).collect();
            pb::FunnelStage {
                stage_id: s.id.clone(),
                stage_name: s.name.clone(),
                entered: f.entered,
                advanced: f.advanced,
                lost: f.lost,
                conversion_rate: f.conversion_rate(),
                current_count: c.current[at],
                current_amount: money::totals(&named(v, &sums)),
            }
        })
        .collect();
    pb::GetFunnelResponse {
        stages,
        won: c.won,
        lost: c.lost,
        win_rate: rate(c.won, c.won + c.lost),
        groups: Vec::new(),
    }
}

/// GetFunnel over `v`.
pub fn funnel(v: &View<'_>, period: Period) -> pb::GetFunnelResponse {
    reply(v, &counts(v, period))
}

/// Sums per currency key as sums per currency code (in code order).
pub fn named<'a>(v: &View<'a>, sums: &BTreeMap<Key, i128>) -> BTreeMap<&'a str, i128> {
    sums.iter().map(|(k, m)| (v.h.currency(*k), *m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{History, Transition, rng::SplitMix64};

    /// The funnel's flows by their definition, stage by stage and stay by
    /// stay, for one deal's stays as (board position or `None`, kind, entered).
    fn by_definition(stays: &[(Option<usize>, StageKind, i64)], period: Period, out: &mut [Flow]) {
        for (p, f) in out.iter_mut().enumerate() {
            let in_p = |&(q, kind, at): &(Option<usize>, StageKind, i64)| {
                q == Some(p) && kind == StageKind::Open && period.contains(at)
            };
            let begun: Vec<usize> = (0..stays.len()).filter(|&i| in_p(&stays[i])).collect();
            let Some(&first) = begun.first() else { continue };
            f.entered += 1;
            let ahead = |&(q, kind, _): &(Option<usize>, StageKind, i64)| {
                kind == StageKind::Won || (kind == StageKind::Open && q.is_some_and(|q| q > p))
            };
            if stays[first + 1..].iter().any(ahead) {
                f.advanced += 1;
            }
            if begun
                .iter()
                .any(|&i| stays.get(i + 1).is_some_and(|s| s.1 == StageKind::Lost))
            {
                f.lost += 1;
            }
        }
    }

    #[test]
    fn flows_match_the_definition_on_random_histories() {
        let kinds = [
            StageKind::Open,
            StageKind::Open,
            StageKind::Lost,
            StageKind::Open,
            StageKind::Open,
            StageKind::Won,
        ];
        let stages: Vec<Stage> = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| Stage {
                id: format!("s{i}"),
                name: format!("S{i}"),
                kind,
                probability: 50,
                rotting_days: 0,
            })
            .collect();
        let mut h = History::new(stages);
        let mut r = SplitMix64::new(11);
        let mut want_stays = Vec::new();
        for i in 0..2000 {
            let n = 1 + r.next_u64() % 7;
            let mut at = (r.next_u64() % 100) as i64;
            let mut ts = Vec::new();
            let mut mine = Vec::new();
            for v in 0..n {
                // Stage 6 is off the board.
                let s = (r.next_u64() % 7) as usize;
                ts.push(Transition {
                    version: v as i64 + 1,
                    to_stage_id: format!("s{s}"),
                    at,
                });
                mine.push((
                    kinds.get(s).map(|_| s),
                    kinds.get(s).copied().unwrap_or(StageKind::Open),
                    at,
                ));
                at += (r.next_u64() % 30) as i64 + 1;
            }
            let stage = ts.last().map(|t| t.to_stage_id.clone()).unwrap_or_default();
            h.put(crate::domain::history::tests::deal(&format!("d{i}"), &stage), ts);
            want_stays.push(mine);
        }
        let v = h.view(None, 1000);
        for (from, to) in [(0, 1000), (20, 60), (50, 51), (90, 200), (300, 400)] {
            let period = Period { from, to };
            let mut want = vec![Flow::default(); kinds.len()];
            for stays in &want_stays {
                by_definition(stays, period, &mut want);
            }
            let mut got = Flows::new(&v, period);
            for (d, stays) in v.deals() {
                got.add(d, stays);
            }
            assert_eq!(got.out, want, "period [{from}, {to})");
            assert!(want.iter().any(|f| f.advanced > 0 && f.lost > 0) || from >= 300);
        }
    }
}
