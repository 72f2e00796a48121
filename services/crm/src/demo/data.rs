//! The demo data set: seeded, so the same seed gives the same deals. The
//! benchmark in tests/benches uses the same generator with its own profile.
//!
//! Each deal walks the open stages in order. In each stage it waits an
//! exponentially distributed time (the stage's mean dwell), then either
//! advances (with the stage's conversion rate) or is lost; after the last
//! open stage it is won. A deal whose next step would lie in the future
//! stays open where it is. Demo is the bottleneck: the lowest conversion and
//! the longest wait.

use crm_analytics::domain::rng::SplitMix64;
use crm_proto::{
    common::v1::{Date, Money, StageKind},
    pipeline::v1 as pb,
};
use prost_types::Timestamp;

use super::Pipeline;

const DAY: i64 = 86_400 * 1_000_000;

/// An open stage: name, probability, rotting days, mean dwell (days), conversion.
pub type OpenStage = (&'static str, i32, i32, f64, f64);

/// What a generated data set looks like.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// The open stages in board order (Won and Lost follow).
    pub open: &'static [OpenStage],
    /// The owners, drawn uniformly.
    pub owners: &'static [&'static str],
}

/// The demo's profile: five open stages, Demo the bottleneck.
pub const DEMO: Profile = Profile {
    open: &OPEN,
    owners: &OWNERS,
};

const OPEN: [OpenStage; 5] = [
    ("Lead", 10, 14, 4.0, 0.70),
    ("Qualified", 25, 14, 6.0, 0.65),
    ("Demo", 40, 21, 21.0, 0.35),
    ("Proposal", 60, 14, 7.0, 0.70),
    ("Negotiation", 80, 10, 5.0, 0.75),
];

const OWNERS: [&str; 5] = ["ava", "ben", "chloe", "dev", "emma"];
const LOST_REASONS: [&str; 4] = ["price", "timing", "went with a competitor", "no budget"];

/// The pipeline of `profile`, named `name`.
pub fn pipeline(profile: &Profile, name: &str) -> pb::CreatePipelineRequest {
    let mut stages: Vec<pb::Stage> = profile
        .open
        .iter()
        .map(|(name, probability, rotting_days, _, _)| pb::Stage {
            name: (*name).into(),
            kind: StageKind::Open as i32,
            probability: *probability,
            rotting_days: *rotting_days,
            ..Default::default()
        })
        .collect();
    stages.push(pb::Stage {
        name: "Won".into(),
        kind: StageKind::Won as i32,
        probability: 100,
        ..Default::default()
    });
    stages.push(pb::Stage {
        name: "Lost".into(),
        kind: StageKind::Lost as i32,
        ..Default::default()
    });
    let pipeline = pb::Pipeline {
        name: name.into(),
        stages,
        ..Default::default()
    };
    pb::CreatePipelineRequest {
        pipeline: Some(pipeline),
        request_id: String::new(),
    }
}

/// `micros` since the epoch as a wire timestamp.
pub fn ts(micros: i64) -> Option<Timestamp> {
    Some(crm_kit::time::to_timestamp(micros))
}

/// The UTC calendar day of `micros` as a wire date.
pub fn date(micros: i64) -> Option<Date> {
    use chrono::Datelike;
    let d = chrono::DateTime::from_timestamp_micros(micros)?.date_naive();
    Some(Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    })
}

/// `n` deals of `p` created over the year before `now`.
pub fn deals(p: &Pipeline, n: usize, seed: u64, now: i64) -> Vec<pb::ImportDealsRequest> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| deal(p, &DEMO, &mut rng, now)).collect()
}

/// One deal of `p` (made from `profile`) created in the year before `now`.
pub fn deal(p: &Pipeline, profile: &Profile, rng: &mut SplitMix64, now: i64) -> pb::ImportDealsRequest {
    let open = profile.open;
    let (won, lost) = (&p.stages[open.len()].id, &p.stages[open.len() + 1].id);
    let created = now - 365 * DAY + (rng.next_f64() * 360.0 * DAY as f64) as i64;
    let mut history = vec![pb::HistoryEntry {
        stage_id: p.stages[0].id.clone(),
        entered_at: ts(created),
    }];
    let (mut at, mut lost_reason) = (created, String::new());
    for (i, (_, _, _, dwell, conversion)) in open.iter().enumerate() {
        let wait = (-(1.0 - rng.next_f64()).ln() * dwell * DAY as f64) as i64;
        let (next_at, advances) = (at + wait.max(3_600_000_000), rng.next_f64() < *conversion);
        if next_at > now {
            break;
        }
        at = next_at;
        let next = match (advances, i + 1 < open.len()) {
            (true, true) => &p.stages[i + 1].id,
            (true, false) => won,
            (false, _) => {
                lost_reason = LOST_REASONS[(rng.next_u64() % 4) as usize].into();
                lost
            }
        };
        history.push(pb::HistoryEntry {
            stage_id: next.clone(),
            entered_at: ts(at),
        });
        if !advances || i + 1 == open.len() {
            break;
        }
    }
    let units = (2_000.0 * 40f64.powf(rng.next_f64())) as i64 / 100 * 100;
    let still_open = history
        .last()
        .is_some_and(|e| &e.stage_id != won && &e.stage_id != lost);
    // Open deals are expected to close in the coming months; closed
    // ones were expected some months after they were created.
    let expected = if still_open {
        now + (10 + (rng.next_u64() % 170) as i64) * DAY
    } else {
        created + (60 + (rng.next_u64() % 120) as i64) * DAY
    };
    pb::ImportDealsRequest {
        pipeline_id: p.id.clone(),
        title: format!("Deal {:05}", rng.next_u64() % 100_000),
        amount: Some(Money {
            currency_code: "EUR".into(),
            units,
            nanos: 0,
        }),
        owner_id: profile.owners[(rng.next_u64() % profile.owners.len() as u64) as usize].into(),
        expected_close_date: date(expected),
        create_time: ts(created),
        lost_reason,
        history,
        ..Default::default()
    }
}

/// The demo's custom deal fields: where the lead came from (a select) and
/// the sales region (text).
pub fn fields() -> Vec<crm_proto::common::v1::FieldDefinition> {
    use crm_proto::common::v1::{FieldDefinition, FieldOption, FieldType};
    let option = |label: &str| FieldOption {
        id: String::new(),
        label: label.into(),
    };
    vec![
        FieldDefinition {
            key: "lead_source".into(),
            label: "Lead source".into(),
            r#type: FieldType::SingleSelect as i32,
            options: LEAD_SOURCES.iter().map(|(label, _)| option(label)).collect(),
            ..Default::default()
        },
        FieldDefinition {
            key: "region".into(),
            label: "Region".into(),
            r#type: FieldType::Text as i32,
            ..Default::default()
        },
    ]
}

/// Lead sources (labels; ids are made from them) and their shares in %.
pub const LEAD_SOURCES: [(&str, u64); 4] = [("Web", 45), ("Referral", 25), ("Event", 20), ("Partner", 10)];
/// Sales regions.
pub const REGIONS: [&str; 3] = ["emea", "amer", "apac"];

/// Gives each deal a lead source and a region, seeded like the deals.
pub fn set_fields(deals: &mut [pb::ImportDealsRequest], seed: u64) {
    use crm_proto::common::v1::{FieldValue, field_value::Kind};
    let mut rng = SplitMix64::new(seed ^ 0x5eed_f1e1d5);
    for d in deals {
        let mut pick = rng.next_u64() % 100;
        let source = LEAD_SOURCES
            .iter()
            .find(|(_, share)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .map_or("web", |(label, _)| label);
        let region = REGIONS[(rng.next_u64() % REGIONS.len() as u64) as usize];
        let value = |kind| FieldValue { kind: Some(kind) };
        d.custom_fields
            .insert("lead_source".into(), value(Kind::Option(source.to_lowercase())));
        d.custom_fields
            .insert("region".into(), value(Kind::Text(region.into())));
    }
}
