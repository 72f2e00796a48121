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
    kinds: Vec<StageKind>,
    /// The flows so far, by board position.
    pub out: Vec<Flow>,
    // Per deal, reset after it: the first begun stay per position, whether a
    // begun stay there ended in LOST, and the best stage entered after each stay.
    first: Vec<Option<usize>>,
    lost: Vec<bool>,
    touched: Vec<usize>,
    ahead_after: Vec<i64>,
}

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
        let kinds = v.kinds();
        let n = kinds.len();
        Self {
            h: v.h,
            period,
            kinds,
            out: vec![Flow::default(); n],
            first: vec![None; n],
            lost: vec![false; n],
            touched: Vec::new(),
            ahead_after: Vec::new(),
        }
    }

    /// Counts one deal.
    pub fn add(&mut self, d: &super::Deal, stays: &[super::Stay]) {
        let (h, period, kinds) = (self.h, self.period, &self.kinds);
        // No stay of it began in the period.
        if d.last_entered < period.from || d.first_entered >= period.to {
            return;
        }
        for (i, st) in stays.iter().enumerate() {
            let Some(p) = h.position(st.stage) else { continue };
            if kinds[p] != StageKind::Open || !period.contains(st.entered) {
                continue;
            }
            if self.first[p].is_none() {
                self.first[p] = Some(i);
                self.touched.push(p);
            }
            let next = stays.get(i + 1).and_then(|nx| h.position(nx.stage));
            if next.is_some_and(|q| kinds[q] == StageKind::Lost) {
                self.lost[p] = true;
            }
        }
        if self.touched.is_empty() {
            return;
        }
        // ahead_after[i]: the highest rank among stays after i, where WON
        // outranks every OPEN stage and an OPEN stage ranks by position.
        self.ahead_after.clear();
        self.ahead_after.resize(stays.len(), -1_i64);
        let mut best = -1_i64;
        for i in (0..stays.len()).rev() {
            self.ahead_after[i] = best;
            let rank = match h.position(stays[i].stage).map(|q| (q, kinds[q])) {
                Some((_, StageKind::Won)) => i64::MAX,
                Some((q, StageKind::Open)) => q as i64,
                _ => -1,
            };
            best = best.max(rank);
        }
        for p in self.touched.drain(..) {
            let f = &mut self.out[p];
            f.entered += 1;
            if self.first[p].is_some_and(|i| self.ahead_after[i] > p as i64) {
                f.advanced += 1;
            }
            if self.lost[p] {
                f.lost += 1;
            }
            self.first[p] = None;
            self.lost[p] = false;
        }
    }
}

/// The board positions of the OPEN stages.
pub fn open_stages<'a>(v: &View<'a>) -> impl Iterator<Item = (usize, &'a Stage)> + 'a {
    v.stages().iter().enumerate().filter(|(_, s)| s.kind == StageKind::Open)
}

/// GetFunnel over `v`.
pub fn funnel<'a>(v: &View<'a>, period: Period) -> pb::GetFunnelResponse {
    let n = v.stages().len();
    let init = || Tally::<'a> {
        flows: Flows::new(v, period),
        current: vec![0_i64; n],
        amounts: vec![BTreeMap::<Key, i128>::new(); n],
        won: 0,
        lost: 0,
    };
    let add = |t: &mut Tally<'a>, d: &'a Deal, stays: &'a [Stay]| {
        t.flows.add(d, stays);
        match d.status {
            DealStatus::Open => {
                let Some(p) = v.h.position(d.stage) else { return };
                t.current[p] += 1;
                if let Some((c, m)) = d.amount() {
                    *t.amounts[p].entry(c).or_default() += i128::from(m);
                }
            }
            DealStatus::Won if d.closed_at.is_some_and(|t| period.contains(t)) => t.won += 1,
            DealStatus::Lost if d.closed_at.is_some_and(|t| period.contains(t)) => t.lost += 1,
            _ => {}
        }
    };
    let merge = |mut a: Tally<'a>, b: Tally<'a>| -> Tally<'a> {
        a.flows = a.flows.merge(b.flows);
        for (x, y) in a.current.iter_mut().zip(b.current) {
            *x += y;
        }
        for (x, y) in a.amounts.iter_mut().zip(b.amounts) {
            for (c, m) in y {
                *x.entry(c).or_default() += m;
            }
        }
        a.won += b.won;
        a.lost += b.lost;
        a
    };
    let Tally {
        flows,
        current,
        amounts,
        won,
        lost,
    } = v.fold(init, add, merge);
    let flows = flows.out;
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
                current_amount: money::totals(&named(v, &amounts[at])),
            }
        })
        .collect();
    pb::GetFunnelResponse {
        stages,
        won,
        lost,
        win_rate: rate(won, won + lost),
    }
}

/// What GetFunnel counts in one pass.
struct Tally<'a> {
    flows: Flows<'a>,
    current: Vec<i64>,
    amounts: Vec<BTreeMap<Key, i128>>,
    won: i64,
    lost: i64,
}

/// Sums per currency key as sums per currency code (in code order).
pub fn named<'a>(v: &View<'a>, sums: &BTreeMap<Key, i128>) -> BTreeMap<&'a str, i128> {
    sums.iter().map(|(k, m)| (v.h.currency(*k), *m)).collect()
}
