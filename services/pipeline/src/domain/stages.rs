//! Stages and the rules of a pipeline's stage list: at least one OPEN stage,
//! exactly one WON and one LOST, unique names, probabilities 0 to 100.

use std::collections::HashSet;

use crm_kit::validate::Violations;
use crm_proto::{common::v1 as common, pipeline::v1 as pb};
use uuid::Uuid;

/// The most stages a pipeline may have.
pub const MAX_STAGES: usize = 50;
/// The longest stage name.
pub const MAX_STAGE_NAME: usize = 100;
/// The largest rotting_days.
pub const MAX_ROTTING_DAYS: i32 = 3650;

/// What a stage means for its deals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    /// A working stage.
    Open,
    /// The won stage.
    Won,
    /// The lost stage.
    Lost,
}

impl StageKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    /// From the stored form; unknown text reads as OPEN.
    pub fn from_db(s: &str) -> Self {
        match s {
            "won" => Self::Won,
            "lost" => Self::Lost,
            _ => Self::Open,
        }
    }

    /// From the wire enum; `None` for UNSPECIFIED or unknown values.
    pub fn from_proto(kind: i32) -> Option<Self> {
        match common::StageKind::try_from(kind).ok()? {
            common::StageKind::Open => Some(Self::Open),
            common::StageKind::Won => Some(Self::Won),
            common::StageKind::Lost => Some(Self::Lost),
            common::StageKind::Unspecified => None,
        }
    }

    /// The wire enum.
    pub fn to_proto(self) -> common::StageKind {
        match self {
            Self::Open => common::StageKind::Open,
            Self::Won => common::StageKind::Won,
            Self::Lost => common::StageKind::Lost,
        }
    }
}

/// One valid stage of a stage list; `id` is `None` for a new stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSpec {
    /// The existing stage this keeps, if any.
    pub id: Option<Uuid>,
    /// The name.
    pub name: String,
    /// 0 to 100; 100 for WON and 0 for LOST.
    pub probability: i32,
    /// OPEN, WON or LOST.
    pub kind: StageKind,
    /// 0 (never) to 3650.
    pub rotting_days: i32,
}

/// A valid ordered stage list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagePlan(pub Vec<StageSpec>);

impl StagePlan {
    /// Parses `stages` (field path `field`), recording every violation.
    /// With `allow_ids` false (create), ids are ignored.
    pub fn parse(v: &mut Violations, field: &str, stages: &[pb::Stage], allow_ids: bool) -> Option<Self> {
        let before = v.is_empty();
        if stages.len() > MAX_STAGES {
            v.add(field, format!("must have at most {MAX_STAGES} stages"));
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        let mut specs = Vec::with_capacity(stages.len());
        for (i, stage) in stages.iter().enumerate() {
            let f = |name: &str| format!("{field}[{i}].{name}");
            let id = if allow_ids {
                v.optional_id(&f("id"), &stage.id)
            } else {
                None
            };
            if let Some(id) = id
                && !ids.insert(id)
            {
                v.add(f("id"), "names the same stage twice");
            }
            let name = v.required_text(&f("name"), &stage.name, MAX_STAGE_NAME);
            if !name.is_empty() && !names.insert(name.to_lowercase()) {
                v.add(f("name"), format!("{name:?} is used by another stage of the pipeline"));
            }
            let kind = StageKind::from_proto(stage.kind);
            if kind.is_none() {
                v.add(f("kind"), "must be STAGE_KIND_OPEN, STAGE_KIND_WON or STAGE_KIND_LOST");
            }
            let probability = match (kind, stage.probability) {
                (_, p) if !(0..=100).contains(&p) => {
                    v.add(f("probability"), "must be 0 to 100");
                    p
                }
                (Some(StageKind::Won), 0 | 100) => 100,
                (Some(StageKind::Won), _) => {
                    v.add(f("probability"), "of the WON stage must be 100 (or left at 0)");
                    100
                }
                (Some(StageKind::Lost), 0) => 0,
                (Some(StageKind::Lost), _) => {
                    v.add(f("probability"), "of the LOST stage must be 0");
                    0
                }
                (_, p) => p,
            };
            if !(0..=MAX_ROTTING_DAYS).contains(&stage.rotting_days) {
                v.add(f("rotting_days"), format!("must be 0 to {MAX_ROTTING_DAYS}"));
            }
            if let Some(kind) = kind {
                specs.push(StageSpec {
                    id,
                    name,
                    probability,
                    kind,
                    rotting_days: stage.rotting_days,
                });
            }
        }
        let count = |k: StageKind| specs.iter().filter(|s| s.kind == k).count();
        if count(StageKind::Open) == 0 {
            v.add(field, "must have at least one OPEN stage");
        }
        if count(StageKind::Won) != 1 {
            v.add(field, "must have exactly one WON stage");
        }
        if count(StageKind::Lost) != 1 {
            v.add(field, "must have exactly one LOST stage");
        }
        (before && v.is_empty()).then_some(StagePlan(specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, kind: common::StageKind, probability: i32) -> pb::Stage {
        pb::Stage {
            name: name.into(),
            kind: kind as i32,
            probability,
            ..Default::default()
        }
    }

    fn parse(stages: &[pb::Stage]) -> Result<StagePlan, crm_kit::ApiError> {
        let mut v = Violations::new();
        let plan = StagePlan::parse(&mut v, "pipeline.stages", stages, true);
        v.finish_with(plan)
    }

    fn fields(err: crm_kit::ApiError) -> Vec<String> {
        match err {
            crm_kit::ApiError::InvalidArgument(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_pipeline_with_open_won_and_lost_stages_is_valid() {
        use common::StageKind::*;
        let plan = parse(&[stage("Lead", Open, 10), stage("Won", Won, 0), stage("Lost", Lost, 0)]).unwrap();
        assert_eq!(plan.0[1].probability, 100, "an unset WON probability becomes 100");
    }

    #[test]
    fn a_pipeline_without_a_won_stage_is_rejected() {
        use common::StageKind::*;
        let err = parse(&[stage("Lead", Open, 10), stage("Lost", Lost, 0)]).unwrap_err();
        assert_eq!(fields(err), ["pipeline.stages"]);
    }

    #[test]
    fn two_lost_stages_are_rejected() {
        use common::StageKind::*;
        let stages = [
            stage("A", Open, 1),
            stage("W", Won, 100),
            stage("L1", Lost, 0),
            stage("L2", Lost, 0),
        ];
        assert!(parse(&stages).is_err());
    }

    #[test]
    fn a_probability_outside_0_to_100_names_the_stage() {
        use common::StageKind::*;
        let err = parse(&[stage("A", Open, 101), stage("W", Won, 100), stage("L", Lost, 0)]).unwrap_err();
        assert_eq!(fields(err), ["pipeline.stages[0].probability"]);
    }

    #[test]
    fn duplicate_stage_names_are_rejected_case_insensitively() {
        use common::StageKind::*;
        let err = parse(&[
            stage("Demo", Open, 1),
            stage("demo", Open, 2),
            stage("W", Won, 100),
            stage("L", Lost, 0),
        ])
        .unwrap_err();
        assert_eq!(fields(err), ["pipeline.stages[1].name"]);
    }

    #[test]
    fn a_stage_without_a_kind_is_rejected() {
        use common::StageKind::*;
        let err = parse(&[
            stage("A", Unspecified, 1),
            stage("B", Open, 1),
            stage("W", Won, 100),
            stage("L", Lost, 0),
        ])
        .unwrap_err();
        assert_eq!(fields(err), ["pipeline.stages[0].kind"]);
    }
}
