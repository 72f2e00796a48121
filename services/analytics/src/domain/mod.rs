//! The analytics definitions, as pure functions over one pipeline's
//! projected history (no I/O): stays from transitions, then the funnel,
//! durations, velocity, bottlenecks, owners and the forecast.

pub mod bottlenecks;
pub mod durations;
pub mod forecast;
pub mod funnel;
pub mod money;
pub mod owners;
pub mod rng;
pub mod velocity;

use std::collections::HashMap;

use chrono::NaiveDate;
use crm_proto::common::v1::{DealStatus, StageKind};

/// Microseconds in a day.
pub const DAY: i64 = 86_400_000_000;

/// A stage on the board.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// OPEN, WON or LOST.
    pub kind: StageKind,
    /// 0 to 100.
    pub probability: i32,
    /// 0 for never.
    pub rotting_days: i32,
}

/// A deal's latest snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    /// Its id.
    pub id: String,
    /// The stage it is in now.
    pub stage_id: String,
    /// OPEN, WON or LOST.
    pub status: DealStatus,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner_id: String,
    /// Its amount as (currency, minor units).
    pub amount: Option<(String, i64)>,
    /// When it is expected to close.
    pub expected_close: Option<NaiveDate>,
    /// Created (µs).
    pub create_time: i64,
    /// Won or lost (µs).
    pub closed_at: Option<i64>,
}

/// One entry of a deal's history, as projected.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The deal's version after the move.
    pub version: i64,
    /// The stage entered.
    pub to_stage_id: String,
    /// When (µs).
    pub at: i64,
}

/// An interval a deal spent in one stage, [entered, exited).
#[derive(Clone, Debug, PartialEq)]
pub struct Stay {
    /// The stage.
    pub stage_id: String,
    /// When it began (µs).
    pub entered: i64,
    /// When it ended (µs); `None` for the current stay.
    pub exited: Option<i64>,
}

/// A half-open time interval [from, to) in µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first instant in it.
    pub from: i64,
    /// The first instant after it.
    pub to: i64,
}

impl Period {
    /// Whether `t` lies in the period.
    pub fn contains(&self, t: i64) -> bool {
        self.from <= t && t < self.to
    }
}

/// One pipeline's history as the projections hold it.
#[derive(Clone, Debug)]
pub struct History {
    /// The stages on the board, in board order.
    pub stages: Vec<Stage>,
    /// The deals (already filtered by owner), each with its stays.
    pub deals: Vec<(Deal, Vec<Stay>)>,
    /// The time the questions are asked at (µs).
    pub now: i64,
}

impl History {
    /// The history of `deals` with their transitions (in any order).
    pub fn new(stages: Vec<Stage>, deals: Vec<(Deal, Vec<Transition>)>, now: i64) -> Self {
        let deals = deals.into_iter().map(|(d, ts)| (d, stays(ts))).collect();
        Self { stages, deals, now }
    }

    /// The board stage with `id`.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The board position of each stage.
    pub fn positions(&self) -> HashMap<&str, usize> {
        self.stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect()
    }

    /// The open deals now.
    pub fn open_deals(&self) -> impl Iterator<Item = &Deal> {
        self.deals
            .iter()
            .map(|(d, _)| d)
            .filter(|d| d.status == DealStatus::Open)
    }

    /// The deals closed with `status` at a time `keep` accepts.
    pub fn closed(&self, status: DealStatus, keep: impl Fn(i64) -> bool) -> impl Iterator<Item = &Deal> {
        self.deals
            .iter()
            .map(|(d, _)| d)
            .filter(move |d| d.status == status && d.closed_at.is_some_and(&keep))
    }
}

/// A deal's stays from its transitions: ordered by time, then version;
/// stay i is [t_i.at, t_{i+1}.at) in t_i's stage.
pub fn stays(mut ts: Vec<Transition>) -> Vec<Stay> {
    ts.sort_by_key(|t| (t.at, t.version));
    let exits: Vec<Option<i64>> = ts.iter().skip(1).map(|t| Some(t.at)).chain([None]).collect();
    ts.into_iter()
        .zip(exits)
        .map(|(t, exited)| Stay {
            stage_id: t.to_stage_id,
            entered: t.at,
            exited,
        })
        .collect()
}

/// The value at rank ceil(num/den x n) of `sorted` (nearest rank); 0 when empty.
pub fn nearest_rank(sorted: &[i64], num: usize, den: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (num * sorted.len()).div_ceil(den).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// `part / whole`, 0 when `whole` is 0.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(version: i64, to: &str, at: i64) -> Transition {
        Transition {
            version,
            to_stage_id: to.into(),
            at,
        }
    }

    #[test]
    fn stays_follow_time_then_version_whatever_the_arrival_order() {
        let s = stays(vec![t(3, "c", 10), t(1, "a", 0), t(2, "b", 10)]);
        let got: Vec<_> = s.iter().map(|s| (s.stage_id.as_str(), s.entered, s.exited)).collect();
        assert_eq!(got, [("a", 0, Some(10)), ("b", 10, Some(10)), ("c", 10, None)]);
    }

    #[test]
    fn nearest_rank_takes_the_ceiling_rank() {
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 1, 2), 5);
        assert_eq!(nearest_rank(&ten, 9, 10), 9);
        assert_eq!(nearest_rank(&[7, 9, 30], 1, 2), 9);
        assert_eq!(nearest_rank(&[7, 9, 30], 9, 10), 30);
        assert_eq!(nearest_rank(&[4], 1, 10), 4);
        assert_eq!(nearest_rank(&[], 1, 2), 0);
    }
}
