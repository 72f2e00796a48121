//! The hand-made history every report test reads, as events.
//!
//! Pipeline P: Lead (OPEN, 10 %), Qualified (OPEN, 50 %, rots after 10
//! days), Won, Lost. T0 = 2026-01-01T00:00Z; D = one day.
//!
//! | deal | owner | amount   | history                                    | expected close |
//! |------|-------|----------|--------------------------------------------|----------------|
//! | d1   | ann   | 1000 EUR | Lead @0D, Qualified @2D, Won @6D           | 2026-01-20     |
//! | d2   | bob   | 2000 EUR | Lead @1D, Lost @4D                         | -              |
//! | d3   | ann   | 500 EUR  | Lead @3D (400 EUR, 500 from @5D), Qual @7D | 2026-02-15     |
//! | d4   | bob   | 300 USD  | Qualified @6D                              | 2026-03-10     |
//! | d5   | ann   | 800 EUR  | Lead @8D                                   | 2026-02-20     |
//!
//! Activities: ann @1D, @9D, @11D; bob @5D.

use crm_proto::{
    common::v1::{Date, DealStatus, Money, StageKind},
    contacts::v1 as cpb,
    events::v1::{self as ev, EventEnvelope},
    pipeline::v1 as ppb,
};
use prost::Name;

use super::harness::money;

/// 2026-01-01T00:00:00Z in µs.
pub const T0: i64 = 1_767_225_600_000_000;
/// A day in µs.
pub const D: i64 = 86_400_000_000;

/// The pipeline.
pub const P: &str = "019a0000-0000-7000-8000-000000000001";
/// Lead.
pub const LEAD: &str = "019a0000-0000-7000-8000-0000000000a1";
/// Qualified.
pub const QUAL: &str = "019a0000-0000-7000-8000-0000000000a2";
/// Won.
pub const WON: &str = "019a0000-0000-7000-8000-0000000000a3";
/// Lost.
pub const LOST: &str = "019a0000-0000-7000-8000-0000000000a4";
/// The deals.
pub const D1: &str = "019a0000-0000-7000-8000-0000000000d1";
/// d2.
pub const D2: &str = "019a0000-0000-7000-8000-0000000000d2";
/// d3.
pub const D3: &str = "019a0000-0000-7000-8000-0000000000d3";
/// d4.
pub const D4: &str = "019a0000-0000-7000-8000-0000000000d4";
/// d5.
pub const D5: &str = "019a0000-0000-7000-8000-0000000000d5";
/// A deal created after the history.
pub const D6: &str = "019a0000-0000-7000-8000-0000000000d6";
/// Another deal created after the history.
pub const D7: &str = "019a0000-0000-7000-8000-0000000000d7";

/// An envelope of `payload` for `tenant`.
pub fn envelope<T: Name>(tenant: &str, aggregate: &str, version: i64, at: i64, payload: &T) -> EventEnvelope {
    let ty = match T::NAME {
        "PipelineCreated" => "pipeline.pipeline.created",
        "PipelineUpdated" => "pipeline.pipeline.updated",
        "PipelineDeleted" => "pipeline.pipeline.deleted",
        "DealCreated" => "pipeline.deal.created",
        "DealUpdated" => "pipeline.deal.updated",
        "DealDeleted" => "pipeline.deal.deleted",
        "DealStageChanged" => "pipeline.deal.stage_changed",
        "DealWon" => "pipeline.deal.won",
        "DealLost" => "pipeline.deal.lost",
        "DealReopened" => "pipeline.deal.reopened",
        "DealStalled" => "pipeline.deal.stalled",
        "DealImported" => "pipeline.deal.imported",
        "ActivityLogged" => "contacts.activity.logged",
        other => panic!("no event type for {other}"),
    };
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.into(),
        r#type: ty.into(),
        aggregate_id: aggregate.into(),
        aggregate_version: version,
        occurred_at: Some(crm_kit::time::to_timestamp(at)),
        actor_id: "ann".into(),
        trace_context: None,
        payload: Some(prost_types::Any::from_msg(payload).expect("encode payload")),
    }
}

fn stage(id: &str, name: &str, kind: StageKind, probability: i32, rotting_days: i32) -> ppb::Stage {
    ppb::Stage {
        id: id.into(),
        name: name.into(),
        probability,
        kind: kind as i32,
        rotting_days,
    }
}

/// The four stages of P, as created.
pub fn stages() -> Vec<ppb::Stage> {
    vec![
        stage(LEAD, "Lead", StageKind::Open, 10, 0),
        stage(QUAL, "Qualified", StageKind::Open, 50, 10),
        stage(WON, "Won", StageKind::Won, 100, 0),
        stage(LOST, "Lost", StageKind::Lost, 0, 0),
    ]
}

/// A stage reference.
pub fn stage_ref(id: &str) -> Option<ev::StageRef> {
    let s = stages().into_iter().find(|s| s.id == id).expect("a stage of P");
    Some(ev::StageRef {
        id: s.id,
        name: s.name,
        kind: s.kind,
        probability: s.probability,
    })
}

/// A deal snapshot of pipeline P.
#[derive(Clone)]
pub struct Snap {
    /// The deal on the wire.
    pub deal: ppb::Deal,
}

impl Snap {
    /// A new open deal created at `at` in `stage`.
    pub fn new(id: &str, owner: &str, amount: Money, stage: &str, at: i64, close: Option<(i32, i32, i32)>) -> Self {
        Self {
            deal: ppb::Deal {
                id: id.into(),
                pipeline_id: P.into(),
                stage_id: stage.into(),
                status: DealStatus::Open as i32,
                title: format!("Deal {}", &id[id.len() - 2..]),
                amount: Some(amount),
                owner_id: owner.into(),
                expected_close_date: close.map(|(year, month, day)| Date { year, month, day }),
                create_time: Some(crm_kit::time::to_timestamp(at)),
                ..Default::default()
            },
        }
    }

    /// The snapshot after a move to `stage` at `at`.
    pub fn moved(&self, stage: &str, at: i64) -> Self {
        let mut d = self.deal.clone();
        d.stage_id = stage.into();
        d.status = match stage {
            WON => DealStatus::Won as i32,
            LOST => DealStatus::Lost as i32,
            _ => DealStatus::Open as i32,
        };
        d.closed_at = (stage == WON || stage == LOST).then(|| crm_kit::time::to_timestamp(at));
        Self { deal: d }
    }
}

/// The events of a creation.
pub fn created(tenant: &str, s: &Snap, at: i64) -> EventEnvelope {
    let p = ev::DealCreated {
        deal: Some(s.deal.clone()),
        stage: stage_ref(&s.deal.stage_id),
    };
    envelope(tenant, &s.deal.id, 1, at, &p)
}

/// The events of a move from `from` to the stage of `after` at `at`
/// (stage_changed, plus won or lost), with version `version`.
pub fn moved(tenant: &str, after: &Snap, from: &str, version: i64, at: i64) -> Vec<EventEnvelope> {
    let (deal, to) = (Some(after.deal.clone()), after.deal.stage_id.as_str());
    let changed = ev::DealStageChanged {
        deal: deal.clone(),
        from_stage: stage_ref(from),
        to_stage: stage_ref(to),
        amount: after.deal.amount.clone(),
        time_in_from_stage: None,
        moved_at: Some(crm_kit::time::to_timestamp(at)),
    };
    let mut out = vec![envelope(tenant, &after.deal.id, version, at, &changed)];
    if to == WON {
        let p = ev::DealWon {
            deal,
            from_stage: stage_ref(from),
            stage: stage_ref(to),
        };
        out.push(envelope(tenant, &after.deal.id, version, at, &p));
    } else if to == LOST {
        let p = ev::DealLost {
            deal,
            from_stage: stage_ref(from),
            lost_reason: "price".into(),
            stage: stage_ref(to),
        };
        out.push(envelope(tenant, &after.deal.id, version, at, &p));
    }
    out
}

/// An activity logged by `author` at `at`.
pub fn activity(tenant: &str, author: &str, at: i64) -> EventEnvelope {
    let id = uuid::Uuid::now_v7().to_string();
    let p = ev::ActivityLogged {
        activity: Some(cpb::Activity {
            id: id.clone(),
            subject: "Call".into(),
            occurred_at: Some(crm_kit::time::to_timestamp(at)),
            author_id: author.into(),
            ..Default::default()
        }),
    };
    envelope(tenant, &id, 1, at, &p)
}

/// The whole history of the table above for `tenant`, in commit order.
pub fn history(tenant: &str) -> Vec<EventEnvelope> {
    let t = tenant;
    let pipeline = ppb::Pipeline {
        id: P.into(),
        name: "Sales".into(),
        stages: stages(),
        ..Default::default()
    };
    let mut out = vec![envelope(
        t,
        P,
        1,
        T0 - D,
        &ev::PipelineCreated {
            pipeline: Some(pipeline),
        },
    )];
    let d1 = Snap::new(D1, "ann", money("EUR", 1000, 0), LEAD, T0, Some((2026, 1, 20)));
    let d2 = Snap::new(D2, "bob", money("EUR", 2000, 0), LEAD, T0 + D, None);
    let d3 = Snap::new(D3, "ann", money("EUR", 400, 0), LEAD, T0 + 3 * D, Some((2026, 2, 15)));
    let mut d3b = d3.clone();
    d3b.deal.amount = Some(money("EUR", 500, 0));
    let d4 = Snap::new(D4, "bob", money("USD", 300, 0), QUAL, T0 + 6 * D, Some((2026, 3, 10)));
    let d5 = Snap::new(D5, "ann", money("EUR", 800, 0), LEAD, T0 + 8 * D, Some((2026, 2, 20)));
    out.push(created(t, &d1, T0));
    out.push(activity(t, "ann", T0 + D));
    out.push(created(t, &d2, T0 + D));
    out.extend(moved(t, &d1.moved(QUAL, T0 + 2 * D), LEAD, 2, T0 + 2 * D));
    out.push(created(t, &d3, T0 + 3 * D));
    out.extend(moved(t, &d2.moved(LOST, T0 + 4 * D), LEAD, 2, T0 + 4 * D));
    let updated = ev::DealUpdated {
        deal: Some(d3b.deal.clone()),
        changed_fields: vec!["amount".into()],
    };
    out.push(envelope(t, D3, 2, T0 + 5 * D, &updated));
    out.push(activity(t, "bob", T0 + 5 * D));
    out.extend(moved(
        t,
        &d1.moved(QUAL, T0 + 2 * D).moved(WON, T0 + 6 * D),
        QUAL,
        3,
        T0 + 6 * D,
    ));
    out.push(created(t, &d4, T0 + 6 * D));
    out.extend(moved(t, &d3b.moved(QUAL, T0 + 7 * D), LEAD, 3, T0 + 7 * D));
    out.push(created(t, &d5, T0 + 8 * D));
    out.push(activity(t, "ann", T0 + 9 * D));
    out.push(activity(t, "ann", T0 + 11 * D));
    let stalled = ev::DealStalled {
        deal: Some(d4.deal.clone()),
        stage: stage_ref(QUAL),
        rotting_days: 10,
        stage_entered_at: Some(crm_kit::time::to_timestamp(T0 + 6 * D)),
    };
    out.push(envelope(t, D4, 1, T0 + 16 * D, &stalled));
    out
}

/// The same history for `tenant` delivered badly: every event twice (the
/// same event_id), every third one also republished under a new event_id,
/// all in a scrambled order.
pub fn scrambled(tenant: &str) -> Vec<EventEnvelope> {
    let events = history(tenant);
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        out.push(e.clone());
        out.push(e.clone());
        if i % 3 == 0 {
            let mut again = e.clone();
            again.event_id = uuid::Uuid::now_v7().to_string();
            out.push(again);
        }
    }
    // Fisher-Yates with a fixed LCG: the same scramble every run.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (state >> 33) as usize % (i + 1);
        out.swap(i, j);
    }
    out
}

/// The same history for `tenant` as a history import would deliver it: the
/// pipeline, one `pipeline.deal.imported` per deal with its final snapshot
/// and stage entries, and the activities.
pub fn imported(tenant: &str) -> Vec<EventEnvelope> {
    let t = tenant;
    let mut out: Vec<EventEnvelope> = history(t)
        .into_iter()
        .filter(|e| e.r#type == "pipeline.pipeline.created" || e.r#type == "contacts.activity.logged")
        .collect();
    let entry = |from: Option<&str>, to: &str, at: i64| ppb::StageTransition {
        from_stage_id: from.unwrap_or_default().into(),
        to_stage_id: to.into(),
        moved_at: Some(crm_kit::time::to_timestamp(at)),
        ..Default::default()
    };
    let d1 = Snap::new(D1, "ann", money("EUR", 1000, 0), LEAD, T0, Some((2026, 1, 20)));
    let d2 = Snap::new(D2, "bob", money("EUR", 2000, 0), LEAD, T0 + D, None);
    let mut d3 = Snap::new(D3, "ann", money("EUR", 400, 0), LEAD, T0 + 3 * D, Some((2026, 2, 15)));
    d3.deal.amount = Some(money("EUR", 500, 0));
    let d4 = Snap::new(D4, "bob", money("USD", 300, 0), QUAL, T0 + 6 * D, Some((2026, 3, 10)));
    let d5 = Snap::new(D5, "ann", money("EUR", 800, 0), LEAD, T0 + 8 * D, Some((2026, 2, 20)));
    let deals = [
        (
            d1.moved(QUAL, T0 + 2 * D).moved(WON, T0 + 6 * D),
            vec![
                entry(None, LEAD, T0),
                entry(Some(LEAD), QUAL, T0 + 2 * D),
                entry(Some(QUAL), WON, T0 + 6 * D),
            ],
        ),
        (
            d2.moved(LOST, T0 + 4 * D),
            vec![entry(None, LEAD, T0 + D), entry(Some(LEAD), LOST, T0 + 4 * D)],
        ),
        (
            d3.moved(QUAL, T0 + 7 * D),
            vec![entry(None, LEAD, T0 + 3 * D), entry(Some(LEAD), QUAL, T0 + 7 * D)],
        ),
        (d4, vec![entry(None, QUAL, T0 + 6 * D)]),
        (d5, vec![entry(None, LEAD, T0 + 8 * D)]),
    ];
    for (snap, history) in deals {
        let p = ev::DealImported {
            deal: Some(snap.deal.clone()),
            history,
        };
        out.push(envelope(t, &snap.deal.id, 1, T0 + 20 * D, &p));
    }
    out
}
