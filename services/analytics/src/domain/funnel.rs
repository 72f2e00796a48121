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

/// What GetFunnel counts: sums over the deals in view, so that a deal's
/// share can be taken out and put back when it changes (the read models
/// keep the counts of recent funnels current this way, see
/// [`crate::cache`]) and the result is the same as counting again.
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
