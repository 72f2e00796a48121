//! Time in stage: the stays that ended in a period, and the stays still open.

use crm_proto::analytics::v1 as pb;

use super::{Deal, Key, Period, Stay, View, select_rank};

/// Microseconds in a second.
const SECOND: i64 = 1_000_000;

/// The position of a stage off the board.
const OFF: u32 = u32::MAX;

/// The stays of every board stage (indexed by board position), deal by deal.
#[derive(Clone, Debug)]
pub struct Gather {
    // Per stage key, its board position (`OFF` for stages off the board).
    positions: Vec<u32>,
    period: Period,
    now: i64,
    /// Lengths of the stays that ended in the period in whole seconds, in
    /// no order (a rank of whole seconds is the whole seconds of the rank:
    /// truncation keeps the order, and 4 bytes a stay halve the memory).
    pub ended: Vec<Vec<u32>>,
    /// The exact sum of those lengths (µs), for the mean.
    pub ended_sum: Vec<i128>,
    /// The stays still open: how many, the sum and the largest of their ages (µs).
    pub open: Vec<(i64, i128, i64)>,
}

impl Gather {
    /// Nothing gathered yet.
    pub fn new(v: &View<'_>, period: Period) -> Self {
        let n = v.stages().len();
        Self {
            positions: (0..v.h.board.len())
                .map(|key| v.h.position(key as Key).map_or(OFF, |p| p as u32))
                .collect(),
            period,
            now: v.now,
            ended: vec![Vec::new(); n],
            ended_sum: vec![0; n],
            open: vec![(0, 0, 0); n],
        }
    }

    /// Adds what `other` gathered.
    pub fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.ended.iter_mut().zip(other.ended) {
            a.extend(b);
        }
        for (a, b) in self.ended_sum.iter_mut().zip(other.ended_sum) {
            *a += b;
        }
        for (a, b) in self.open.iter_mut().zip(other.open) {
            *a = (a.0 + b.0, a.1 + b.1, a.2.max(b.2));
        }
        self
    }

    /// Gathers one deal's stays.
    pub fn add(&mut self, d: &Deal, stays: &[Stay]) {
        let position = |key: Key| match self.positions.get(key as usize) {
            Some(&p) if p != OFF => Some(p as usize),
            _ => None,
        };
        // The stay still open is the last one.
        if let Some(p) = position(d.last_stage) {
            let age = (self.now - d.last_entered).max(0);
            let o = &mut self.open[p];
            *o = (o.0 + 1, o.1 + i128::from(age), o.2.max(age));
        }
        // A stay ends when the next begins: none ended in the period unless
        // some stay began in it.
        let period = self.period;
        if d.last_entered < period.from || d.first_entered >= period.to {
            return;
        }
        for pair in stays.windows(2) {
            let (st, exit) = (pair[0], pair[1].entered);
            if !period.contains(exit) {
                continue;
            }
            if let Some(p) = position(st.stage) {
                let micros = exit - st.entered;
                self.ended[p].push(u32::try_from(micros / SECOND).unwrap_or(u32::MAX));
                self.ended_sum[p] += i128::from(micros);
            }
        }
    }
}

/// The p50 of `ended` stay lengths in whole seconds (reorders them).
pub fn p50_seconds(ended: &mut [u32]) -> i64 {
    i64::from(select_rank(ended, 1, 2))
}

/// The mean in seconds of `count` stays lasting `sum` µs in all.
fn mean_seconds(sum: i128, count: usize) -> f64 {
    if count == 0 {
        return 0.0;
    }
    sum as f64 / count as f64 / SECOND as f64
}

/// GetStageDurations over `v`: every stage in board order.
pub fn durations<'a>(v: &View<'a>, period: Period) -> pb::GetStageDurationsResponse {
    let mut g = v.fold(
        || Gather::new(v, period),
        |g: &mut Gather, d, stays| g.add(d, stays),
        Gather::merge,
    );
    let stages = v
        .stages()
        .iter()
        .zip(g.ended.iter_mut().zip(&g.ended_sum).zip(&g.open))
        .map(|(s, ((ended, &sum), &(open, open_sum, open_max)))| pb::StageDuration {
            stage_id: s.id.clone(),
            stage_name: s.name.clone(),
            count: ended.len() as i64,
            mean_seconds: mean_seconds(sum, ended.len()),
            p50_seconds: p50_seconds(ended),
            p90_seconds: i64::from(select_rank(ended, 9, 10)),
            open_count: open,
            open_mean_age_seconds: if open == 0 {
                0.0
            } else {
                open_sum as f64 / open as f64 / SECOND as f64
            },
            open_max_age_seconds: open_max / SECOND,
        })
        .collect();
    pb::GetStageDurationsResponse { stages }
}
