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

/// A deal's latest snapshot in a [`History`]: only the fields the reports
/// read on every pass (its texts are in [`History::text`]).
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct Deal {
    /// The stage it is in now.
    pub stage: Key,
    /// Its owner (see [`History::owner`]).
    pub owner: Key,
    /// OPEN, WON or LOST.
    pub status: DealStatus,
    /// The currency of its amount (see [`History::currency`]); [`NONE`] without one.
    pub currency: Key,
    /// Its amount in minor units of `currency` (0 without one).
    pub minor: i64,
    /// Created (µs).
    pub create_time: i64,
    /// Won or lost (µs).
    pub closed_at: Option<i64>,
    /// When it is expected to close.
    pub expected_close: Option<NaiveDate>,
    /// When its first and its last stay began (µs), so a pass can skip a
    /// deal none of whose stays began in a period.
    pub first_entered: i64,
    /// See `first_entered`.
    pub last_entered: i64,
    /// The stage of its last stay (the one without an exit).
    pub last_stage: Key,
    // Its place in the history's deals and texts, and its stays' start and
    // length in the arena.
    slot: u32,
    start: u32,
    len: u32,
    /// Bit p is set when one of its stays was in the stage at board
    /// position p (for p < 64).
    pub visited: u64,
}

/// What a few replies say of a deal besides numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// Deals per task of a [`View::fold`].
const FOLD_CHUNK: usize = 32 * 1024;

/// The key of no name (a deal without an amount has currency `NONE`).
pub const NONE: Key = Key::MAX;

impl Deal {
    /// Its amount as (currency, minor units).
    pub fn amount(&self) -> Option<(Key, i64)> {
        (self.currency != NONE).then_some((self.currency, self.minor))
    }
}

/// Names interned as keys.
#[derive(Clone, Debug, Default)]
struct Names {
    keys: HashMap<String, Key>,
    names: Vec<String>,
}

impl Names {
    fn key(&mut self, name: &str) -> Key {
        if let Some(&k) = self.keys.get(name) {
            return k;
        }
        let k = Key::try_from(self.names.len()).unwrap_or(NONE);
        self.keys.insert(name.to_owned(), k);
        self.names.push(name.to_owned());
        k
    }

    fn get(&self, name: &str) -> Option<Key> {
        self.keys.get(name).copied()
    }

    fn name(&self, key: Key) -> &str {
        self.names.get(key as usize).map_or("", String::as_str)
    }
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

/// An interval a deal spent in one stage, [entered, exited): a stay ends
/// when the deal's next stay begins (16 bytes, so a pass over five million
/// stays reads half the memory it would with the exit stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stay {
    /// When it began (µs).
    pub entered: i64,
    /// The stage.
    pub stage: Key,
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
/// [`crate::cache`]); the reports read it through a [`View`]. Stage ids,
/// owners and currencies are interned, and the stays of all deals sit in one
/// arena, so a pass over a million deals reads memory in order.
#[derive(Clone, Debug, Default)]
pub struct History {
    stages: Vec<Stage>,
    stage_keys: Names,
    owners: Names,
    currencies: Names,
    // Board position of each stage key; `None` for stages off the board.
    board: Vec<Option<usize>>,
    deals: Vec<Deal>,
    texts: Vec<Text>,
    index: HashMap<String, usize>,
    arena: Vec<Stay>,
    // Arena entries no deal points at any more.
    garbage: usize,
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
        for i in 0..self.deals.len() {
            self.deals[i].visited = self.visited(self.stays_of(&self.deals[i]));
        }
    }

    /// The board positions `stays` touched, as bits (positions below 64).
    fn visited(&self, stays: &[Stay]) -> u64 {
        stays
            .iter()
            .filter_map(|st| self.position(st.stage))
            .filter(|&p| p < 64)
            .fold(0, |m, p| m | 1 << p)
    }

    /// The key of stage `id`, interned on first sight.
    fn key(&mut self, id: &str) -> Key {
        let k = self.stage_keys.key(id);
        if self.board.len() <= k as usize {
            self.board.resize(k as usize + 1, None);
        }
        k
    }

    /// Stores `deal` with its transitions (in any order), replacing what was there.
    pub fn put(&mut self, deal: DealRow, transitions: Vec<Transition>) {
        let stays = self.stays(transitions);
        let (currency, minor) = match &deal.amount {
            Some((c, m)) => (self.currencies.key(c), *m),
            None => (NONE, 0),
        };
        let stage = self.key(&deal.stage_id);
        // Without stays (a snapshot ahead of its moves) every check skips it.
        let first = stays.first().map_or((i64::MAX, NONE), |s| (s.entered, s.stage));
        let last = stays.last().map_or((i64::MIN, NONE), |s| (s.entered, s.stage));
        let visited = self.visited(&stays);
        let start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(stays.len()).unwrap_or(u32::MAX);
        self.arena.extend(stays);
        let slot = self.index.get(&deal.id).copied();
        let mut hot = Deal {
            stage,
            owner: self.owners.key(&deal.owner_id),
            status: deal.status,
            currency,
            minor,
            create_time: deal.create_time,
            closed_at: deal.closed_at,
            expected_close: deal.expected_close,
            first_entered: first.0,
            last_entered: last.0,
            last_stage: last.1,
            slot: 0,
            start,
            len,
            visited,
        };
        let text = Text {
            id: deal.id,
            title: deal.title,
        };
        match slot {
            Some(i) => {
                hot.slot = u32::try_from(i).unwrap_or(u32::MAX);
                self.garbage += self.deals[i].len as usize;
                self.deals[i] = hot;
                self.texts[i] = text;
            }
            None => {
                hot.slot = u32::try_from(self.deals.len()).unwrap_or(u32::MAX);
                self.index.insert(text.id.clone(), self.deals.len());
                self.deals.push(hot);
                self.texts.push(text);
            }
        }
        self.compact_if_wasteful();
    }

    /// Forgets the deal `id`.
    pub fn remove(&mut self, id: &str) {
        let Some(i) = self.index.remove(id) else { return };
        self.garbage += self.deals[i].len as usize;
        self.deals.swap_remove(i);
        self.texts.swap_remove(i);
        if let Some(moved) = self.deals.get_mut(i) {
            moved.slot = u32::try_from(i).unwrap_or(u32::MAX);
            self.index.insert(self.texts[i].id.clone(), i);
        }
        self.compact_if_wasteful();
    }

    /// The id and title of `d`.
    pub fn text(&self, d: &Deal) -> &Text {
        &self.texts[d.slot as usize]
    }

    /// Rewrites the arena in deal order once half of it is garbage.
    fn compact_if_wasteful(&mut self) {
        if self.garbage < 1024 || self.garbage * 2 < self.arena.len() {
            return;
        }
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for d in &mut self.deals {
            let (start, len) = (d.start as usize, d.len as usize);
            d.start = u32::try_from(arena.len()).unwrap_or(u32::MAX);
            arena.extend_from_slice(&self.arena[start..start + len]);
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// A deal's stays from its transitions: ordered by time, then version;
    /// stay i is [t_i.at, t_{i+1}.at) in t_i's stage.
    pub fn stays(&mut self, mut ts: Vec<Transition>) -> Vec<Stay> {
        ts.sort_by_key(|t| (t.at, t.version));
        ts.into_iter()
            .map(|t| Stay {
                stage: self.key(&t.to_stage_id),
                entered: t.at,
            })
            .collect()
    }

    /// The stays of `d`.
    pub fn stays_of(&self, d: &Deal) -> &[Stay] {
        let start = d.start as usize;
        self.arena.get(start..start + d.len as usize).unwrap_or(&[])
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
        self.stage_keys.name(key)
    }

    /// The owner `key` stands for.
    pub fn owner(&self, key: Key) -> &str {
        self.owners.name(key)
    }

    /// How many owners are interned (keys are below this).
    pub fn owner_count(&self) -> usize {
        self.owners.names.len()
    }

    /// The ISO 4217 code `key` stands for.
    pub fn currency(&self, key: Key) -> &str {
        self.currencies.name(key)
    }

    /// How many currencies are interned (keys are below this).
    pub fn currency_count(&self) -> usize {
        self.currencies.names.len()
    }

    /// The questions of one caller: `owner`'s deals only (if given), at `now`.
    pub fn view<'a>(&'a self, owner: Option<&'a str>, now: i64) -> View<'a> {
        // An owner without deals has no key: nothing matches NONE.
        let owner_key = owner.map(|o| self.owners.get(o).unwrap_or(NONE));
        View {
            h: self,
            owner,
            owner_key,
            now,
        }
    }
}

/// A [`History`] as one request sees it.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The whole history.
    pub h: &'a History,
    /// Only this owner's deals count, if set.
    pub owner: Option<&'a str>,
    owner_key: Option<Key>,
    /// The time the questions are asked at (µs).
    pub now: i64,
}

impl<'a> View<'a> {
    /// The stages on the board, in board order.
    pub fn stages(&self) -> &'a [Stage] {
        &self.h.stages
    }

    /// Whether `d` is in view.
    pub fn sees(&self, d: &Deal) -> bool {
        self.owner_key.is_none_or(|o| d.owner == o)
    }

    /// The deal `id` with its stays, if it is in view.
    pub fn deal(&self, id: &str) -> Option<(&'a Deal, &'a [Stay])> {
        let d = &self.h.deals[*self.h.index.get(id)?];
        self.sees(d).then(|| (d, self.h.stays_of(d)))
    }

    /// The deals in view, each with its stays.
    pub fn deals(&self) -> impl Iterator<Item = (&'a Deal, &'a [Stay])> + 'a {
        let (h, owner) = (self.h, self.owner_key);
        h.deals
            .iter()
            .filter(move |d| owner.is_none_or(|o| d.owner == o))
            .map(move |d| (d, h.stays_of(d)))
    }

    /// Folds `add` over the deals in view on every core: each worker starts
    /// from `init()` on its share, and `merge` joins the results. Only for
    /// folds whose result does not depend on the order (counts, integer sums,
    /// collections sorted or selected afterwards).
    pub fn fold<A, I, F, M>(&self, init: I, add: F, merge: M) -> A
    where
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(&mut A, &'a Deal, &'a [Stay]) + Sync + Send,
        M: Fn(A, A) -> A + Sync + Send,
    {
        use rayon::prelude::*;
        let (h, owner) = (self.h, self.owner_key);
        h.deals
            .par_chunks(FOLD_CHUNK)
            .map(|chunk| {
                let mut acc = init();
                for d in chunk.iter().filter(|d| owner.is_none_or(|o| d.owner == o)) {
                    add(&mut acc, d, h.stays_of(d));
                }
                acc
            })
            .reduce(&init, &merge)
    }

    /// The kind of each board position.
    pub fn kinds(&self) -> Vec<StageKind> {
        self.h.stages.iter().map(|s| s.kind).collect()
    }
}

/// The value at rank ceil(num/den x n) of `values` in sorted order (nearest
/// rank), found by selection (linear time; `values` is reordered); 0 when empty.
pub fn select_rank<T: Ord + Copy + Default>(values: &mut [T], num: usize, den: usize) -> T {
    if values.is_empty() {
        return T::default();
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
pub(crate) mod tests {
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
        let exits = s.iter().skip(1).map(|n| Some(n.entered)).chain([None]);
        let got: Vec<_> = s
            .iter()
            .zip(exits)
            .map(|(s, x)| (h.stage_id(s.stage), s.entered, x))
            .collect();
        assert_eq!(got, [("a", 0, Some(10)), ("b", 10, Some(10)), ("c", 10, None)]);
    }

    /// An open deal of owner `o` in `stage`, with nothing else set.
    pub(crate) fn deal(id: &str, stage: &str) -> DealRow {
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
            .map(|(d, s)| (h.text(d).id.as_str(), h.stage_id(d.stage), s.len()))
            .collect();
        got.sort_unstable();
        assert_eq!(got, [("b", "s2", 2), ("c", "s1", 1)]);
        // The stays follow their deal through replacements and compaction.
        for i in 0..3000 {
            h.put(deal("c", "s1"), vec![t(1, "s1", i), t(2, "s2", i + 1)]);
        }
        let c = &h.deals[h.index["c"]];
        let stays: Vec<_> = h.stays_of(c).iter().map(|s| s.entered).collect();
        assert_eq!(stays, [2999, 3000]);
        assert!(h.arena.len() < 3000, "compacted: {}", h.arena.len());
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
        assert_eq!(select_rank::<i64>(&mut [], 1, 2), 0);
    }
}
