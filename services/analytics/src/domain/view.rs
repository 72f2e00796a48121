//! A [`History`] as one request sees it: one owner's deals or all, at one
//! instant, folded on every core.

use crm_proto::common::v1::StageKind;

use super::{
    history::History,
    records::{Deal, Key, Stage, Stay},
};

/// Deals per task of a [`View::fold`].
const FOLD_CHUNK: usize = 32 * 1024;

/// A [`History`] as one request sees it.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The whole history.
    pub h: &'a History,
    /// Only this owner's deals count, if set.
    pub owner: Option<&'a str>,
    pub(super) owner_key: Option<Key>,
    /// Conditions on the deals' select custom values (empty: none).
    pub(super) segment: &'a [Vec<Key>],
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
        admits(self.h, self.owner_key, self.segment, d)
    }

    /// The deal `id` with its stays, if it is in view.
    pub fn deal(&self, id: &str) -> Option<(&'a Deal, &'a [Stay])> {
        let d = &self.h.deals[*self.h.index.get(id)?];
        self.sees(d).then(|| (d, self.h.stays_of(d)))
    }

    /// The deals in view, each with its stays.
    pub fn deals(&self) -> impl Iterator<Item = (&'a Deal, &'a [Stay])> + 'a {
        let (h, owner, segment) = (self.h, self.owner_key, self.segment);
        h.deals
            .iter()
            .filter(move |d| admits(h, owner, segment, d))
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
        let (h, owner, segment) = (self.h, self.owner_key, self.segment);
        h.deals
            .par_chunks(FOLD_CHUNK)
            .map(|chunk| {
                let mut acc = init();
                for d in chunk.iter().filter(|d| admits(h, owner, segment, d)) {
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

/// Whether `d` is `owner`'s (when set) and holds, for each condition of
/// `segment`, one of its `key=option` pairs.
fn admits(h: &History, owner: Option<Key>, segment: &[Vec<Key>], d: &Deal) -> bool {
    owner.is_none_or(|o| d.owner == o)
        && (segment.is_empty() || {
            let held = &h.text(d).fields;
            segment.iter().all(|any| held.iter().any(|k| any.contains(k)))
        })
}
