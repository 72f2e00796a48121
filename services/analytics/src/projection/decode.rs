//! What each event changes: a deal's snapshot and its stage entries, read
//! from the event's payload (every kind of deal event carries the deal).

use anyhow::Context;
use crm_kit::time;
use crm_proto::{
    events::v1::{self as ev, EventEnvelope},
    pipeline::v1::Deal,
};
use prost::Name;

/// The events that carry a deal's snapshot (and maybe stage entries).
pub(super) const DEAL_CHANGES: [&str; 7] = [
    "pipeline.deal.created",
    "pipeline.deal.stage_changed",
    "pipeline.deal.imported",
    "pipeline.deal.updated",
    "pipeline.deal.won",
    "pipeline.deal.lost",
    "pipeline.deal.reopened",
];

/// One event's deal snapshot and stage entries.
pub(super) struct DealChange<'a> {
    /// The event.
    pub e: &'a EventEnvelope,
    /// The deal as the event left it.
    pub deal: Deal,
    /// The stage entries it brings.
    pub entries: Vec<Entry>,
}

/// The snapshot and stage entries `e` carries, if it is one of [`DEAL_CHANGES`].
pub(super) fn deal_change(e: &EventEnvelope) -> anyhow::Result<Option<DealChange<'_>>> {
    let version = e.aggregate_version;
    let (deal, entries) = match e.r#type.as_str() {
        "pipeline.deal.created" => {
            let p: ev::DealCreated = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let to = p.stage.map(|s| s.id).filter(|s| !s.is_empty());
            let to = to.unwrap_or_else(|| deal.stage_id.clone());
            let at = deal.create_time.as_ref().and_then(time::from_timestamp);
            let entry = Entry {
                version,
                from: None,
                to,
                at: at.unwrap_or_else(|| occurred(e)),
            };
            (deal, vec![entry])
        }
        "pipeline.deal.stage_changed" => {
            let p: ev::DealStageChanged = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let at = p.moved_at.as_ref().and_then(time::from_timestamp);
            let entry = Entry {
                version,
                from: p.from_stage.map(|s| s.id),
                to: p.to_stage.map(|s| s.id).unwrap_or_else(|| deal.stage_id.clone()),
                at: at.unwrap_or_else(|| occurred(e)),
            };
            (deal, vec![entry])
        }
        "pipeline.deal.imported" => {
            // An imported deal arrives at version 1 with its whole history:
            // the entries take versions up to 0, below every live move's.
            let p: ev::DealImported = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let n = p.history.len() as i64;
            let entries = p
                .history
                .into_iter()
                .enumerate()
                .map(|(i, t)| Entry {
                    version: i as i64 + 1 - n,
                    from: Some(t.from_stage_id),
                    at: t
                        .moved_at
                        .as_ref()
                        .and_then(time::from_timestamp)
                        .unwrap_or_else(|| occurred(e)),
                    to: t.to_stage_id,
                })
                .collect();
            (deal, entries)
        }
        "pipeline.deal.updated" => (decode::<ev::DealUpdated>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.won" => (decode::<ev::DealWon>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.lost" => (decode::<ev::DealLost>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.reopened" => (decode::<ev::DealReopened>(e)?.deal.unwrap_or_default(), Vec::new()),
        _ => return Ok(None),
    };
    Ok(Some(DealChange { e, deal, entries }))
}

/// One stage entry of a deal, about to be stored.
pub(super) struct Entry {
    /// The version it is keyed by.
    pub version: i64,
    /// The stage left.
    pub from: Option<String>,
    /// The stage entered.
    pub to: String,
    /// When (µs).
    pub at: i64,
}

pub(super) fn decode<T: prost::Message + Name + Default>(e: &EventEnvelope) -> anyhow::Result<T> {
    e.payload
        .as_ref()
        .context("the event has no payload")?
        .to_msg::<T>()
        .with_context(|| format!("decoding the payload of {} as {}", e.r#type, T::full_name()))
}

/// When the event happened (µs); now if it does not say.
pub(super) fn occurred(e: &EventEnvelope) -> i64 {
    e.occurred_at
        .as_ref()
        .and_then(time::from_timestamp)
        .unwrap_or_else(time::now_micros)
}

impl DealChange<'_> {
    /// The deal's id: the payload's, else the event's aggregate.
    pub fn deal_id(&self) -> String {
        if self.deal.id.is_empty() {
            self.e.aggregate_id.clone()
        } else {
            self.deal.id.clone()
        }
    }
}
