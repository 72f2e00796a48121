//! One pipeline's history in memory: its board and every live deal with
//! its stays, interned and laid out for passes over a million deals.

use std::collections::HashMap;

use super::{
    records::{Deal, DealRow, Key, NONE, Names, Stage, Stay, Text, Transition},
    view::View,
};

/// Conditions on deals' select custom values, all of which must hold: each
/// a set of interned `key=option` pairs (from [`History::condition`]), one
/// of which the deal must hold.
pub type Segment = Vec<Vec<Key>>;

/// One pipeline's history as the projections hold it: its board and every
/// live deal with its stays. Kept in memory and updated deal by deal (see
/// [`crate::cache`]); the reports read it through a [`View`]. Stage ids,
/// owners and currencies are interned, and the stays of all deals sit in one
/// arena, so a pass over a million deals reads memory in order.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub(super) stages: Vec<Stage>,
    stage_keys: Names,
    pub(super) owners: Names,
    currencies: Names,
    // `key=option` pairs of select custom values.
    field_options: Names,
    // Board position of each stage key; `None` for stages off the board.
    pub(super) board: Vec<Option<usize>>,
    pub(super) deals: Vec<Deal>,
    texts: Vec<Text>,
    pub(super) index: HashMap<String, usize>,
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
        let fields = deal
            .fields
            .iter()
            .map(|(key, option)| self.field_options.key(&format!("{key}={option}")))
            .collect();
        let text = Text {
            id: deal.id,
            title: deal.title,
            fields,
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
        self.view_in(owner, &[], now)
    }

    /// [`Self::view`] of the deals in `segment` only (see [`Segment`]).
    pub fn view_in<'a>(&'a self, owner: Option<&'a str>, segment: &'a [Vec<Key>], now: i64) -> View<'a> {
        // An owner without deals has no key: nothing matches NONE.
        let owner_key = owner.map(|o| self.owners.get(o).unwrap_or(NONE));
        View {
            h: self,
            owner,
            owner_key,
            segment,
            now,
        }
    }

    /// The interned pair of select field `key` and `option`; [`NONE`] (which
    /// no deal holds) when no deal ever held it.
    pub fn field_option(&self, key: &str, option: &str) -> Key {
        self.field_options.get(&format!("{key}={option}")).unwrap_or(NONE)
    }

    /// The segment of deals whose field `key` holds one of `options`, as a
    /// [`View`] tests it.
    pub fn condition(&self, key: &str, options: &[String]) -> Vec<Key> {
        options.iter().map(|o| self.field_option(key, o)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crm_proto::common::v1::DealStatus;

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
            fields: Vec::new(),
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
}
