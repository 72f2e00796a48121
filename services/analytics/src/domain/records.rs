//! The records a [`History`](super::History) is made of: stages, deal
//! snapshots, transitions and the stays computed from them, with stage ids,
//! owners and currencies interned as [`Key`]s.

use std::collections::HashMap;

use chrono::NaiveDate;
use crm_proto::common::v1::{DealStatus, StageKind};

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
    /// Its select custom values: (field key, option id), one pair per
    /// option held.
    pub fields: Vec<(String, String)>,
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
    pub(super) slot: u32,
    pub(super) start: u32,
    pub(super) len: u32,
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
    /// Its select custom values, as interned `key=option` pairs (see
    /// [`History::field_option`]).
    pub fields: Vec<Key>,
}

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
pub(super) struct Names {
    keys: HashMap<String, Key>,
    pub(super) names: Vec<String>,
}

impl Names {
    pub(super) fn key(&mut self, name: &str) -> Key {
        if let Some(&k) = self.keys.get(name) {
            return k;
        }
        let k = Key::try_from(self.names.len()).unwrap_or(NONE);
        self.keys.insert(name.to_owned(), k);
        self.names.push(name.to_owned());
        k
    }

    pub(super) fn get(&self, name: &str) -> Option<Key> {
        self.keys.get(name).copied()
    }

    pub(super) fn name(&self, key: Key) -> &str {
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
