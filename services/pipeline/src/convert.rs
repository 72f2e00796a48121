//! Stored records as wire messages, for replies and event payloads alike
//! (the handlers, the events and the stall scanner all use these).

use crm_fields::Definitions;
use crm_kit::{etag, time};
use crm_proto::{common::v1 as common, events::v1 as ev, pipeline::v1 as pb};
use crm_tenancy::settings;

use crate::{
    domain::{DealStatus, PipelineWithStages, StageKind, money::to_money},
    entity::{deal, stage, transition},
};

/// A stage row on the wire.
pub fn stage(s: &stage::Model) -> pb::Stage {
    pb::Stage {
        id: s.id.clone(),
        name: s.name.clone(),
        probability: s.probability,
        kind: StageKind::from_db(&s.kind).to_proto() as i32,
        rotting_days: s.rotting_days,
    }
}

/// A pipeline with its stages on the wire.
pub fn pipeline(p: &PipelineWithStages) -> pb::Pipeline {
    pb::Pipeline {
        id: p.pipeline.id.clone(),
        name: p.pipeline.name.clone(),
        stages: p.stages.iter().map(stage).collect(),
        etag: etag::format(p.pipeline.version),
        create_time: Some(time::to_timestamp(p.pipeline.created_at)),
        update_time: Some(time::to_timestamp(p.pipeline.updated_at)),
    }
}

/// A `YYYY-MM-DD` text as a wire date.
pub fn date(text: &str) -> Option<common::Date> {
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    use chrono::Datelike;
    Some(common::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    })
}

/// A deal row on the wire; `probability` is its stage's.
pub fn deal(d: &deal::Model, probability: i32, defs: &Definitions) -> pb::Deal {
    pb::Deal {
        id: d.id.clone(),
        pipeline_id: d.pipeline_id.clone(),
        stage_id: d.stage_id.clone(),
        status: DealStatus::from_db(&d.status).to_proto() as i32,
        title: d.title.clone(),
        amount: match (&d.currency, d.amount_minor) {
            (Some(c), Some(m)) => Some(to_money(c, i128::from(m))),
            _ => None,
        },
        contact_id: d.contact_id.clone().unwrap_or_default(),
        company_id: d.company_id.clone().unwrap_or_default(),
        owner_id: d.owner_id.clone(),
        expected_close_date: d.expected_close_date.as_deref().and_then(date),
        probability,
        lost_reason: d.lost_reason.clone().unwrap_or_default(),
        stage_entered_at: Some(time::to_timestamp(d.stage_entered_at)),
        closed_at: d.closed_at.map(time::to_timestamp),
        create_time: Some(time::to_timestamp(d.created_at)),
        update_time: Some(time::to_timestamp(d.updated_at)),
        etag: etag::format(d.version),
        custom_fields: crm_fields::values::to_wire(defs, &d.custom_fields),
    }
}

/// A transition row on the wire.
pub fn transition(t: &transition::Model) -> pb::StageTransition {
    pb::StageTransition {
        deal_id: t.deal_id.clone(),
        from_stage_id: t.from_stage_id.clone().unwrap_or_default(),
        to_stage_id: t.to_stage_id.clone(),
        actor_id: t.actor_id.clone(),
        moved_at: Some(time::to_timestamp(t.moved_at)),
        time_in_from_stage: t.time_in_from_stage.map(time::to_duration),
        lost_reason: t.lost_reason.clone().unwrap_or_default(),
    }
}

/// A stage as events describe it.
pub fn stage_ref(s: &stage::Model) -> ev::StageRef {
    ev::StageRef {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: StageKind::from_db(&s.kind).to_proto() as i32,
        probability: s.probability,
    }
}

/// A tenant's settings on the wire.
pub fn settings(s: &settings::entity::Model) -> pb::TenantSettings {
    pb::TenantSettings {
        visibility: s.visibility,
        etag: etag::format(s.version),
        update_time: (s.version > 0).then(|| time::to_timestamp(s.update_time)),
    }
}
