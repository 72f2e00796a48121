//! The deal state machine: a deal's status follows the kind of its stage;
//! a move to the LOST stage needs a reason; leaving WON or LOST reopens it.

use crm_kit::{
    ApiError, ApiResult,
    etag::Target,
    validate::{Violations, new_id},
};
use crm_proto::{common::v1 as common, pipeline::v1 as pb};

use super::{pipeline::PipelineWithStages, stages::StageKind};
use crate::entity::{deal, stage, transition};

/// The longest lost reason.
pub const MAX_LOST_REASON: usize = 500;

/// A deal's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DealStatus {
    /// In an OPEN stage.
    Open,
    /// In the WON stage.
    Won,
    /// In the LOST stage.
    Lost,
}

impl DealStatus {
    /// The status of a deal in a stage of `kind`.
    pub fn of(kind: StageKind) -> Self {
        match kind {
            StageKind::Open => Self::Open,
            StageKind::Won => Self::Won,
            StageKind::Lost => Self::Lost,
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    /// From the stored form.
    pub fn from_db(s: &str) -> Self {
        Self::of(StageKind::from_db(s))
    }

    /// From the wire enum; `Ok(None)` for UNSPECIFIED (any status).
    pub fn from_proto(status: i32) -> Result<Option<Self>, prost::UnknownEnumValue> {
        match common::DealStatus::try_from(status)? {
            common::DealStatus::Unspecified => Ok(None),
            common::DealStatus::Open => Ok(Some(Self::Open)),
            common::DealStatus::Won => Ok(Some(Self::Won)),
            common::DealStatus::Lost => Ok(Some(Self::Lost)),
        }
    }

    /// The wire enum.
    pub fn to_proto(self) -> common::DealStatus {
        match self {
            Self::Open => common::DealStatus::Open,
            Self::Won => common::DealStatus::Won,
            Self::Lost => common::DealStatus::Lost,
        }
    }
}

/// What a valid move does to a deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveEffect {
    /// The status after the move.
    pub status: DealStatus,
    /// The lost reason after the move (only in the LOST stage).
    pub lost_reason: Option<String>,
    /// Whether the move closes the deal now (sets closed_at).
    pub closes: bool,
    /// Whether the move reopens a won or lost deal.
    pub reopens: bool,
}

/// Checks a move from a stage of kind `from` (id `from_id`) to `to_id` of
/// kind `to`, with the caller's `lost_reason`.
pub fn plan_move(
    from_id: &str,
    from: StageKind,
    to_id: &str,
    to: StageKind,
    lost_reason: &str,
) -> Result<MoveEffect, ApiError> {
    if from_id == to_id {
        return Err(ApiError::precondition(
            "ALREADY_IN_STAGE",
            "stage_id",
            "the deal is already in this stage",
        ));
    }
    let reason = lost_reason.trim();
    let lost_reason = if to == StageKind::Lost {
        if reason.is_empty() {
            return Err(ApiError::invalid(
                "lost_reason",
                "is required to move a deal to the LOST stage",
            ));
        }
        if reason.chars().count() > MAX_LOST_REASON {
            return Err(ApiError::invalid(
                "lost_reason",
                format!("must be at most {MAX_LOST_REASON} characters"),
            ));
        }
        Some(reason.to_owned())
    } else {
        None
    };
    Ok(MoveEffect {
        status: DealStatus::of(to),
        lost_reason,
        closes: to != StageKind::Open,
        reopens: from != StageKind::Open && to == StageKind::Open,
    })
}

/// A valid MoveDeal request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealMove {
    /// The deal and the etag the caller read.
    pub target: Target,
    /// The stage to move it to.
    pub stage_id: String,
    /// Why it was lost (for a move to the LOST stage).
    pub lost_reason: String,
}

impl DealMove {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::MoveDealRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "deal_id", &req.deal_id, "etag", &req.etag);
        let stage_id = v.required_id("stage_id", &req.stage_id).map(|u| u.to_string());
        let (target, stage_id) = v.finish_with(target.zip(stage_id))?;
        Ok(Self {
            target,
            stage_id,
            lost_reason: req.lost_reason.clone(),
        })
    }
}

/// What a move announces, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveEvent {
    /// `pipeline.deal.stage_changed`: every move.
    StageChanged,
    /// `pipeline.deal.won`: the move closed it won.
    Won,
    /// `pipeline.deal.lost`: the move closed it lost.
    Lost,
    /// `pipeline.deal.reopened`: the move took it out of WON or LOST.
    Reopened,
}

/// A move the state machine allowed: the deal after it, the transition it
/// records, both stages, and the events it announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    /// The deal after the move (version + 1).
    pub next: deal::Model,
    /// The stage history's new entry.
    pub transition: transition::Model,
    /// The stage it left.
    pub from: stage::Model,
    /// The stage it entered.
    pub to: stage::Model,
    /// What to announce, in order.
    pub events: Vec<MoveEvent>,
}

/// Moves `current` (a deal of `pipeline`) as `m` asks, by `actor` at `now`.
pub fn apply_move(
    current: &deal::Model,
    pipeline: &PipelineWithStages,
    m: &DealMove,
    actor: &str,
    now: i64,
) -> ApiResult<Moved> {
    let to = pipeline
        .stage(&m.stage_id)
        .ok_or_else(|| ApiError::invalid("stage_id", "is not a stage of the deal's pipeline"))?;
    let from = pipeline
        .stage(&current.stage_id)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("deal {} is in an unknown stage", current.id)))?;
    let (from_kind, to_kind) = (StageKind::from_db(&from.kind), StageKind::from_db(&to.kind));
    let effect = plan_move(&from.id, from_kind, &to.id, to_kind, &m.lost_reason)?;
    let mut next = current.clone();
    next.stage_id = to.id.clone();
    next.status = effect.status.as_str().to_owned();
    next.lost_reason = effect.lost_reason.clone();
    next.stage_entered_at = now;
    next.closed_at = effect.closes.then_some(now);
    next.version += 1;
    next.updated_at = now;
    let transition = transition::Model {
        id: new_id().to_string(),
        tenant_id: current.tenant_id.clone(),
        deal_id: current.id.clone(),
        from_stage_id: Some(from.id.clone()),
        to_stage_id: to.id.clone(),
        actor_id: actor.to_owned(),
        moved_at: now,
        time_in_from_stage: Some(now - current.stage_entered_at),
        lost_reason: effect.lost_reason.clone(),
    };
    let closing = match (effect.status, effect.reopens) {
        (DealStatus::Won, _) => Some(MoveEvent::Won),
        (DealStatus::Lost, _) => Some(MoveEvent::Lost),
        (DealStatus::Open, true) => Some(MoveEvent::Reopened),
        (DealStatus::Open, false) => None,
    };
    Ok(Moved {
        next,
        transition,
        from: from.clone(),
        to: to.clone(),
        events: std::iter::once(MoveEvent::StageChanged).chain(closing).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewPipeline, fields::DealFields};

    /// Lead, Demo, Won, Lost, and a deal of 1,000 EUR in Lead since t=10.
    fn sales() -> (PipelineWithStages, deal::Model) {
        use common::StageKind::{Lost, Open, Won};
        let stage = |name: &str, kind: common::StageKind| pb::Stage {
            name: name.into(),
            kind: kind as i32,
            ..Default::default()
        };
        let req = pb::CreatePipelineRequest {
            pipeline: Some(pb::Pipeline {
                name: "Sales".into(),
                stages: vec![
                    stage("Lead", Open),
                    stage("Demo", Open),
                    stage("Won", Won),
                    stage("Lost", Lost),
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let tenant = crm_kit::tenant::Tenant::of_row("acme");
        let pipeline = NewPipeline::parse(&req).unwrap().create(&tenant, 1);
        let new = super::super::edits::NewDeal {
            pipeline_id: pipeline.pipeline.id.clone(),
            stage_id: None,
            fields: DealFields {
                title: Some("Acme".into()),
                ..Default::default()
            },
        };
        let deal = new.create(&tenant, &pipeline, "ann", 10).unwrap().deal;
        (pipeline, deal)
    }

    fn to(pipeline: &PipelineWithStages, deal: &deal::Model, stage: usize, reason: &str) -> DealMove {
        DealMove {
            target: Target {
                id: deal.id.clone(),
                etag: Some(deal.version),
            },
            stage_id: pipeline.stages[stage].id.clone(),
            lost_reason: reason.into(),
        }
    }

    #[test]
    fn a_move_between_open_stages_announces_only_the_stage_change() {
        let (p, deal) = sales();
        let moved = apply_move(&deal, &p, &to(&p, &deal, 1, ""), "bob", 25).unwrap();
        assert_eq!(moved.events, [MoveEvent::StageChanged]);
        assert_eq!((moved.next.version, moved.next.stage_entered_at), (2, 25));
        assert_eq!(moved.transition.time_in_from_stage, Some(15));
        assert_eq!(moved.transition.actor_id, "bob");
        assert_eq!(moved.next.closed_at, None);
    }

    #[test]
    fn winning_then_reopening_announces_won_then_reopened() {
        let (p, deal) = sales();
        let won = apply_move(&deal, &p, &to(&p, &deal, 2, ""), "ann", 20).unwrap();
        assert_eq!(won.events, [MoveEvent::StageChanged, MoveEvent::Won]);
        assert_eq!((won.next.status.as_str(), won.next.closed_at), ("won", Some(20)));
        let reopened = apply_move(&won.next, &p, &to(&p, &won.next, 0, ""), "ann", 30).unwrap();
        assert_eq!(reopened.events, [MoveEvent::StageChanged, MoveEvent::Reopened]);
        assert_eq!((reopened.next.status.as_str(), reopened.next.closed_at), ("open", None));
    }

    #[test]
    fn losing_records_the_reason_on_the_deal_and_its_transition() {
        let (p, deal) = sales();
        let lost = apply_move(&deal, &p, &to(&p, &deal, 3, " budget "), "ann", 20).unwrap();
        assert_eq!(lost.events, [MoveEvent::StageChanged, MoveEvent::Lost]);
        assert_eq!(lost.next.lost_reason.as_deref(), Some("budget"));
        assert_eq!(lost.transition.lost_reason.as_deref(), Some("budget"));
    }

    #[test]
    fn a_stage_of_another_pipeline_names_stage_id() {
        let (p, deal) = sales();
        let mut m = to(&p, &deal, 1, "");
        m.stage_id = new_id().to_string();
        let err = apply_move(&deal, &p, &m, "ann", 20).unwrap_err();
        assert!(matches!(err, ApiError::InvalidArgument(v) if v[0].field == "stage_id"));
    }

    #[test]
    fn moving_to_the_lost_stage_without_a_reason_is_rejected() {
        let err = plan_move("a", StageKind::Open, "l", StageKind::Lost, "  ").unwrap_err();
        assert!(matches!(err, ApiError::InvalidArgument(v) if v[0].field == "lost_reason"));
    }

    #[test]
    fn moving_to_the_lost_stage_with_a_reason_closes_the_deal() {
        let effect = plan_move("a", StageKind::Open, "l", StageKind::Lost, "budget cut").unwrap();
        assert_eq!(effect.status, DealStatus::Lost);
        assert_eq!(effect.lost_reason.as_deref(), Some("budget cut"));
        assert!(effect.closes && !effect.reopens);
    }

    #[test]
    fn moving_a_won_deal_back_to_an_open_stage_reopens_it() {
        let effect = plan_move("w", StageKind::Won, "a", StageKind::Open, "").unwrap();
        assert_eq!(effect.status, DealStatus::Open);
        assert!(effect.reopens && !effect.closes);
        assert_eq!(effect.lost_reason, None);
    }

    #[test]
    fn moving_between_open_stages_neither_closes_nor_reopens() {
        let effect = plan_move("a", StageKind::Open, "b", StageKind::Open, "ignored").unwrap();
        assert!(!effect.closes && !effect.reopens);
        assert_eq!(effect.lost_reason, None);
    }

    #[test]
    fn moving_to_the_current_stage_is_a_failed_precondition() {
        let err = plan_move("a", StageKind::Open, "a", StageKind::Open, "").unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    }
}
