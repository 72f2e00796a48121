//! One imported deal, checked: its fields, and a history whose stages
//! belong to the pipeline and whose times neither decrease nor lie in the
//! future. The current stage, status and closed_at follow from the history.

use crm_kit::{
    tenant::Tenant,
    time,
    validate::{Violations, new_id},
};
use crm_proto::pipeline::v1 as pb;

use super::{DealStatus, StageKind, deal::MAX_LOST_REASON, fields::DealFields, pipeline::PipelineWithStages};
use crate::entity::{deal, transition};

/// The most history entries one imported deal may have.
pub const MAX_HISTORY: usize = 1000;

/// One stage entry of a checked history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The stage entered.
    pub stage_id: String,
    /// The stage's kind.
    pub kind: StageKind,
    /// When (µs).
    pub at: i64,
}

/// A checked imported deal.
#[derive(Clone, Debug)]
pub struct ImportedDeal {
    /// Title, amount, references, owner, close date.
    pub fields: DealFields,
    /// When it was created (µs).
    pub create_time: i64,
    /// The stage entries, oldest first; the last is the current stage.
    pub history: Vec<Entry>,
    /// The lost reason, when the current stage is LOST.
    pub lost_reason: Option<String>,
}

impl ImportedDeal {
    /// Checks `req` against the pipeline's stages (`kind_of` answers a stage
    /// id of the pipeline with its kind).
    pub fn parse(
        req: &pb::ImportDealsRequest,
        kind_of: impl Fn(&str) -> Option<StageKind>,
        defs: &crm_fields::Definitions,
        now: i64,
    ) -> Result<Self, crm_kit::ApiError> {
        let mut v = Violations::new();
        let as_deal = pb::Deal {
            title: req.title.clone(),
            amount: req.amount.clone(),
            owner_id: req.owner_id.clone(),
            contact_id: req.contact_id.clone(),
            company_id: req.company_id.clone(),
            expected_close_date: req.expected_close_date,
            ..Default::default()
        };
        let mut fields = DealFields::parse(&mut v, &as_deal, &super::fields::SETTABLE);
        let custom = crm_fields::values::for_create(&mut v, defs, &req.custom_fields, "custom_fields");
        if crm_fields::values::check_size(&custom, "custom_fields").is_err() {
            let max = crm_fields::values::MAX_STORED_BYTES;
            v.add("custom_fields", format!("must take at most {max} bytes as stored"));
        }
        fields.custom = Some(custom);
        if req.history.is_empty() || req.history.len() > MAX_HISTORY {
            v.add("history", format!("must have 1 to {MAX_HISTORY} entries"));
        }
        let mut history = Vec::with_capacity(req.history.len());
        for (i, e) in req.history.iter().enumerate() {
            let kind = kind_of(&e.stage_id);
            if kind.is_none() {
                v.add(
                    format!("history[{i}].stage_id"),
                    "is not a stage of the deal's pipeline",
                );
            }
            let at = e.entered_at.as_ref().and_then(time::from_timestamp);
            match at {
                None => v.add(
                    format!("history[{i}].entered_at"),
                    "is required and must be a valid time",
                ),
                Some(at) if at > now => v.add(format!("history[{i}].entered_at"), "is in the future"),
                Some(at) if history.last().is_some_and(|prev: &Entry| at < prev.at) => {
                    v.add(format!("history[{i}].entered_at"), "is before the previous entry")
                }
                _ => {}
            }
            if let (Some(kind), Some(at)) = (kind, at) {
                history.push(Entry {
                    stage_id: e.stage_id.clone(),
                    kind,
                    at,
                });
            }
        }
        let first = history.first().map(|e| e.at);
        let create_time = match (req.create_time.as_ref(), first) {
            (None, first) => first,
            (Some(ts), first) => match time::from_timestamp(ts) {
                Some(t) if first.is_some_and(|f| t > f) => {
                    v.add("create_time", "is after the first history entry");
                    None
                }
                Some(t) => Some(t),
                None => {
                    v.add("create_time", "is not a valid time");
                    None
                }
            },
        };
        let reason = req.lost_reason.trim();
        let lost = history.last().is_some_and(|e| e.kind == StageKind::Lost);
        if lost && reason.is_empty() {
            v.add("lost_reason", "is required when the deal ends in the LOST stage");
        }
        if reason.chars().count() > MAX_LOST_REASON {
            v.add("lost_reason", format!("must be at most {MAX_LOST_REASON} characters"));
        }
        v.finish()?;
        let create_time = create_time.unwrap_or(now);
        Ok(Self {
            fields,
            create_time,
            history,
            lost_reason: lost.then(|| reason.to_owned()),
        })
    }

    /// The status the history ends in.
    pub fn status(&self) -> DealStatus {
        self.history.last().map_or(DealStatus::Open, |e| DealStatus::of(e.kind))
    }

    /// When it was closed: the last entry's time, if that is WON or LOST.
    pub fn closed_at(&self) -> Option<i64> {
        self.history.last().filter(|e| e.kind != StageKind::Open).map(|e| e.at)
    }
}

/// The rows of one imported deal, ready to write.
#[derive(Clone, Debug)]
pub struct ImportedRows {
    /// The deal at version 1, in the stage its history ends in.
    pub deal: deal::Model,
    /// Its history, oldest first.
    pub transitions: Vec<transition::Model>,
    /// The probability of its current stage.
    pub probability: i32,
}

impl ImportedDeal {
    /// The rows of this deal of `pipeline`, imported by `actor` of `tenant` at `now`.
    pub fn rows(self, tenant: &Tenant, actor: &str, pipeline: &PipelineWithStages, now: i64) -> ImportedRows {
        let last = self.history.last().cloned();
        let mut deal = deal::Model {
            id: new_id().to_string(),
            tenant_id: tenant.id(),
            pipeline_id: pipeline.pipeline.id.clone(),
            stage_id: last.as_ref().map(|e| e.stage_id.clone()).unwrap_or_default(),
            status: self.status().as_str().to_owned(),
            owner_id: actor.to_owned(),
            lost_reason: self.lost_reason.clone(),
            stage_entered_at: last.as_ref().map_or(self.create_time, |e| e.at),
            closed_at: self.closed_at(),
            created_at: self.create_time,
            updated_at: now,
            version: 1,
            ..Default::default()
        };
        self.fields.apply_to(&mut deal);
        let mut transitions = Vec::with_capacity(self.history.len());
        let mut previous: Option<&Entry> = None;
        for (i, e) in self.history.iter().enumerate() {
            let is_last = i + 1 == self.history.len();
            transitions.push(transition::Model {
                id: new_id().to_string(),
                tenant_id: tenant.id(),
                deal_id: deal.id.clone(),
                from_stage_id: previous.map(|p| p.stage_id.clone()),
                to_stage_id: e.stage_id.clone(),
                actor_id: actor.to_owned(),
                moved_at: e.at,
                time_in_from_stage: previous.map(|p| e.at - p.at),
                lost_reason: if is_last { self.lost_reason.clone() } else { None },
            });
            previous = Some(e);
        }
        let probability = last
            .as_ref()
            .and_then(|e| pipeline.stage(&e.stage_id))
            .map_or(0, |s| s.probability);
        ImportedRows {
            deal,
            transitions,
            probability,
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;

    use super::*;

    fn entry(stage: &str, secs: i64) -> pb::HistoryEntry {
        pb::HistoryEntry {
            stage_id: stage.into(),
            entered_at: Some(Timestamp {
                seconds: secs,
                nanos: 0,
            }),
        }
    }

    fn kinds(id: &str) -> Option<StageKind> {
        match id {
            "lead" | "demo" => Some(StageKind::Open),
            "won" => Some(StageKind::Won),
            "lost" => Some(StageKind::Lost),
            _ => None,
        }
    }

    fn req(history: Vec<pb::HistoryEntry>) -> pb::ImportDealsRequest {
        pb::ImportDealsRequest {
            title: "Imported".into(),
            history,
            ..Default::default()
        }
    }

    const NOW: i64 = 2_000_000_000 * 1_000_000;

    #[test]
    fn a_won_history_closes_the_deal_at_its_last_entry() {
        let d = ImportedDeal::parse(
            &req(vec![entry("lead", 100), entry("demo", 200), entry("won", 300)]),
            kinds,
            &Default::default(),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (d.status(), d.closed_at(), d.create_time),
            (DealStatus::Won, Some(300_000_000), 100_000_000)
        );
    }

    #[test]
    fn times_that_go_backwards_or_into_the_future_are_rejected() {
        assert!(
            ImportedDeal::parse(
                &req(vec![entry("lead", 200), entry("demo", 100)]),
                kinds,
                &Default::default(),
                NOW
            )
            .is_err()
        );
        assert!(
            ImportedDeal::parse(
                &req(vec![entry("lead", 3_000_000_000)]),
                kinds,
                &Default::default(),
                NOW
            )
            .is_err()
        );
    }

    #[test]
    fn a_lost_history_needs_a_reason_and_a_foreign_stage_is_rejected() {
        assert!(
            ImportedDeal::parse(
                &req(vec![entry("lead", 1), entry("lost", 2)]),
                kinds,
                &Default::default(),
                NOW
            )
            .is_err()
        );
        assert!(ImportedDeal::parse(&req(vec![entry("elsewhere", 1)]), kinds, &Default::default(), NOW).is_err());
        assert!(ImportedDeal::parse(&req(vec![]), kinds, &Default::default(), NOW).is_err());
    }
}
