//! The analytics definitions, as pure functions over one pipeline's
//! projected history (no I/O): stays from transitions, then the funnel,
//! durations, velocity, bottlenecks, owners and the forecast. Each report is
//! one or two passes over the deals, so it stays fast at a million deals.

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

/// A stage id, interned per pipeline: stays and deals carry keys, not strings,
/// so a pass over a million deals compares integers.
pub type Key = u32;

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

/// A deal's latest snapshot, as the projections hold it.
#[derive(Clone, Debug, PartialEq)]
pub struct DealRow {
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

/// A deal's latest snapshot in a [`History`].
#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    /// Its id.
    pub id: String,
    /// The stage it is in now.
    pub stage: Key,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stay {
    /// The stage.
    pub stage: Key,
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

/// One pipeline's history as the projections hold it: its board and every
/// live deal with its stays. Kept in memory and updated deal by deal (see
/// [`crate::cache`]); the reports read it through a [`View`].
#[derive(Clone, Debug, Default)]
pub struct History {
    stages: Vec<Stage>,
    keys: HashMap<String, Key>,
    names: Vec<String>,
    // Board position of each key; `None` for stages off the board.
    board: Vec<Option<usize>>,
    deals: Vec<(Deal, Vec<Stay>)>,
    index: HashMap<String, usize>,
}

impl History {
    /// An empty history of a pipeline with `stages` in board order.
    pub fn new(stages: Vec<Stage>) -> Self {
        let mut h = Self::default();
        h.set_stages(stages);
        h
    }

    /// Replaces the board (stays keep their stages, on the board or not).
    pub fn set_stages(&mut self, stages: Vec<Stage>) {
        self.board.iter_mut().for_each(|p| *p = None);
        for (at, s) in stages.iter().enumerate() {
            let key = self.key(&s.id);
            self.board[key as usize] = Some(at);
        }
        self.stages = stages;
    }

    /// The key of stage `id`, interned on first sight.
    fn key(&mut self, id: &str) -> Key {
        if let Some(&k) = self.keys.get(id) {
            return k;
        }
        let k = Key::try_from(self.names.len()).unwrap_or(Key::MAX);
        self.keys.insert(id.to_owned(), k);
        self.names.push(id.to_owned());
        self.board.push(None);
        k
    }

    /// Stores `deal` with its transitions (in any order), replacing what was there.
    pub fn put(&mut self, deal: DealRow, transitions: Vec<Transition>) {
        let stays = self.stays(transitions);
        let deal = Deal {
            stage: self.key(&deal.stage_id),
            id: deal.id,
            status: deal.status,
            title: deal.title,
            owner_id: deal.owner_id,
            amount: deal.amount,
            expected_close: deal.expected_close,
            create_time: deal.create_time,
            closed_at: deal.closed_at,
        };
        match self.index.get(&deal.id) {
            Some(&i) => self.deals[i] = (deal, stays),
            None => {
                self.index.insert(deal.id.clone(), self.deals.len());
                self.deals.push((deal, stays));
            }
        }
    }

    /// Forgets the deal `id`.
    pub fn remove(&mut self, id: &str) {
        let Some(i) = self.index.remove(id) else { return };
        self.deals.swap_remove(i);
        if let Some((moved, _)) = self.deals.get(i) {
            self.index.insert(moved.id.clone(), i);
        }
    }

    /// A deal's stays from its transitions: ordered by time, then version;
    /// stay i is [t_i.at, t_{i+1}.at) in t_i's stage.
    pub fn stays(&mut self, mut ts: Vec<Transition>) -> Vec<Stay> {
        ts.sort_by_key(|t| (t.at, t.version));
        let exits: Vec<Option<i64>> = ts.iter().skip(1).map(|t| Some(t.at)).chain([None]).collect();
        ts.into_iter()
            .zip(exits)
            .map(|(t, exited)| Stay {
                stage: self.key(&t.to_stage_id),
                entered: t.at,
                exited,
            })
            .collect()
    }

    /// The stages on the board, in board order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// How many deals it holds.
    pub fn len(&self) -> usize {
        self.deals.len()
    }

    /// Whether it holds no deal.
    pub fn is_empty(&self) -> bool {
        self.deals.is_empty()
    }

    /// The board position of stage `key`, if it is on the board.
    pub fn position(&self, key: Key) -> Option<usize> {
        self.board.get(key as usize).copied().flatten()
    }

    /// The board stage of `key`.
    pub fn stage(&self, key: Key) -> Option<&Stage> {
        self.position(key).map(|p| &self.stages[p])
    }

    /// The id of stage `key`.
    pub fn stage_id(&self, key: Key) -> &str {
        self.names.get(key as usize).map_or("", String::as_str)
    }

    /// The questions of one caller: `owner`'s deals only (if given), at `now`.
    pub fn view<'a>(&'a self, owner: Option<&'a str>, now: i64) -> View<'a> {
        View { h: self, owner, now }
    }
}

/// A [`History`] as one request sees it.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The whole history.
    pub h: &'a History,
    /// Only this owner's deals count, if set.
    pub owner: Option<&'a str>,
    /// The time the questions are asked at (µs).
    pub now: i64,
}

impl<'a> View<'a> {
    /// The stages on the board, in board order.
    pub fn stages(&self) -> &'a [Stage] {
        &self.h.stages
    }

    /// The deals in view, each with its stays.
    pub fn deals(&self) -> impl Iterator<Item = (&'a Deal, &'a [Stay])> + 'a {
        let owner = self.owner;
        self.h
            .deals
            .iter()
            .filter(move |(d, _)| owner.is_none_or(|o| d.owner_id == o))
            .map(|(d, s)| (d, s.as_slice()))
    }

    /// The open deals in view now.
    pub fn open_deals(&self) -> impl Iterator<Item = &'a Deal> + 'a {
        self.deals().map(|(d, _)| d).filter(|d| d.status == DealStatus::Open)
    }

    /// The deals in view closed with `status` at a time `keep` accepts.
    pub fn closed(&self, status: DealStatus, keep: impl Fn(i64) -> bool + 'a) -> impl Iterator<Item = &'a Deal> + 'a {
        self.deals()
            .map(|(d, _)| d)
            .filter(move |d| d.status == status && d.closed_at.is_some_and(&keep))
    }

    /// The kind of each board position.
    pub fn kinds(&self) -> Vec<StageKind> {
        self.h.stages.iter().map(|s| s.kind).collect()
    }
}

/// The value at rank ceil(num/den x n) of `values` in sorted order (nearest
/// rank), found by selection (linear time; `values` is reordered); 0 when empty.
pub fn select_rank(values: &mut [i64], num: usize, den: usize) -> i64 {
    if values.is_empty() {
        return 0;
    }
    let rank = (num * values.len()).div_ceil(den).max(1).min(values.len());
    *values.select_nth_unstable(rank - 1).1
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
        let mut h = History::new(Vec::new());
        let s = h.stays(vec![t(3, "c", 10), t(1, "a", 0), t(2, "b", 10)]);
        let got: Vec<_> = s.iter().map(|s| (h.stage_id(s.stage), s.entered, s.exited)).collect();
        assert_eq!(got, [("a", 0, Some(10)), ("b", 10, Some(10)), ("c", 10, None)]);
    }

    fn deal(id: &str, stage: &str) -> DealRow {
        DealRow {
            id: id.into(),
            stage_id: stage.into(),
            status: DealStatus::Open,
            title: String::new(),
            owner_id: "o".into(),
            amount: None,
            expected_close: None,
            create_time: 0,
            closed_at: None,
        }
    }

    #[test]
    fn a_deal_put_twice_is_replaced_and_a_removed_one_is_gone() {
        let mut h = History::new(Vec::new());
        h.put(deal("a", "s1"), vec![t(1, "s1", 0)]);
        h.put(deal("b", "s1"), vec![t(1, "s1", 0)]);
        h.put(deal("c", "s1"), vec![t(1, "s1", 0)]);
        h.put(deal("a", "s2"), vec![t(1, "s1", 0), t(2, "s2", 5)]);
        h.remove("a");
        h.remove("missing");
        h.put(deal("b", "s2"), vec![t(1, "s1", 0), t(2, "s2", 7)]);
        let mut got: Vec<_> = h
            .view(None, 10)
            .deals()
            .map(|(d, s)| (d.id.as_str(), h.stage_id(d.stage), s.len()))
            .collect();
        got.sort_unstable();
        assert_eq!(got, [("b", "s2", 2), ("c", "s1", 1)]);
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
        for (num, den) in [(1, 2), (9, 10), (1, 10)] {
            let mut shuffled = vec![30, 7, 9, 1, 22, 5, 9];
            let mut sorted = shuffled.clone();
            sorted.sort_unstable();
            assert_eq!(select_rank(&mut shuffled, num, den), nearest_rank(&sorted, num, den));
        }
        assert_eq!(select_rank(&mut [], 1, 2), 0);
    }
}
