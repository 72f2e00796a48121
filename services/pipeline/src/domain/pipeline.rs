//! A pipeline and its stage list: creating one, and the rules of changing
//! it (a stage that holds deals is neither removed nor changes its kind).

use std::collections::{HashMap, HashSet};

use crm_kit::{
    ApiError, ApiResult,
    etag::Target,
    handler::mask_paths,
    tenant::Tenant,
    validate::{Violations, new_id},
};
use crm_proto::pipeline::v1 as pb;

use super::stages::{StageKind, StagePlan, StageSpec};
use crate::entity::{pipeline, stage};

/// The longest pipeline name.
pub const MAX_NAME: usize = 100;

/// A pipeline with its stages in board order.
#[derive(Clone, Debug)]
pub struct PipelineWithStages {
    /// The pipeline row.
    pub pipeline: pipeline::Model,
    /// Its stages, by position.
    pub stages: Vec<stage::Model>,
}

impl PipelineWithStages {
    /// The stage with `id`, if it belongs to this pipeline.
    pub fn stage(&self, id: &str) -> Option<&stage::Model> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The first OPEN stage, where a new deal starts by default.
    pub fn first_open(&self) -> Option<&stage::Model> {
        self.stages
            .iter()
            .find(|s| StageKind::from_db(&s.kind) == StageKind::Open)
    }
}

/// A stage row of `pipeline_id` at `position`, as `spec` describes it.
pub fn stage_row(tenant: &str, pipeline_id: &str, id: String, position: usize, spec: &StageSpec) -> stage::Model {
    stage::Model {
        id,
        tenant_id: tenant.to_owned(),
        pipeline_id: pipeline_id.to_owned(),
        position: i32::try_from(position).unwrap_or(i32::MAX),
        name: spec.name.clone(),
        probability: spec.probability,
        kind: spec.kind.as_str().to_owned(),
        rotting_days: spec.rotting_days,
    }
}

/// A valid CreatePipeline request.
#[derive(Clone, Debug)]
pub struct NewPipeline {
    /// The name.
    pub name: String,
    /// The stages, in board order.
    pub plan: StagePlan,
}

impl NewPipeline {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::CreatePipelineRequest) -> ApiResult<Self> {
        let input = req.pipeline.clone().unwrap_or_default();
        let mut v = Violations::new();
        let name = v.required_text("pipeline.name", &input.name, MAX_NAME);
        let plan = StagePlan::parse(&mut v, "pipeline.stages", &input.stages, false);
        let plan = v.finish_with(plan)?;
        Ok(Self { name, plan })
    }

    /// The new pipeline of `tenant` at version 1, its stages with new ids.
    pub fn create(&self, tenant: &Tenant, now: i64) -> PipelineWithStages {
        let id = new_id().to_string();
        let stages = self.plan.0.iter().enumerate();
        PipelineWithStages {
            stages: stages
                .map(|(i, s)| stage_row(tenant.as_str(), &id, new_id().to_string(), i, s))
                .collect(),
            pipeline: pipeline::Model {
                id,
                tenant_id: tenant.id(),
                name: self.name.clone(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        }
    }
}

/// A valid UpdatePipeline request: the fields its mask names.
#[derive(Clone, Debug)]
pub struct PipelineUpdate {
    /// The pipeline and the etag the caller read.
    pub target: Target,
    /// The new name, when `name` is in the mask.
    pub name: Option<String>,
    /// The new stage list, when `stages` is in the mask.
    pub plan: Option<StagePlan>,
}

/// What an update does: the pipeline's next state and its stage rows.
#[derive(Clone, Debug)]
pub struct PipelineChange {
    /// The pipeline after the change (version + 1).
    pub next: PipelineWithStages,
    /// The fields changed, as mask paths.
    pub changed: Vec<String>,
    /// The stage rows kept (rewritten in place).
    pub kept: Vec<stage::Model>,
    /// The stage rows added.
    pub added: Vec<stage::Model>,
    /// The ids of the stages removed.
    pub removed: Vec<String>,
}

impl PipelineUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdatePipelineRequest) -> ApiResult<Self> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.pipeline.clone().unwrap_or_default();
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "pipeline.id", &input.id, "pipeline.etag", &input.etag);
        let (mut name, mut plan) = (None, None);
        for path in &paths {
            match *path {
                "name" => name = Some(v.required_text("pipeline.name", &input.name, MAX_NAME)),
                "stages" => plan = StagePlan::parse(&mut v, "pipeline.stages", &input.stages, true),
                other => v.add(
                    "update_mask",
                    format!("{other:?} is not an updatable pipeline field; use \"name\" or \"stages\""),
                ),
            }
        }
        let target = v.finish_with(target)?;
        Ok(Self { target, name, plan })
    }

    /// Whether the update replaces the stage list (and so needs the
    /// stages' deal counts).
    pub fn restages(&self) -> bool {
        self.plan.is_some()
    }

    /// The change to `current`, whose stages hold `deals` deals each
    /// (stages without deals absent).
    pub fn apply(
        &self,
        current: &PipelineWithStages,
        deals: &HashMap<String, i64>,
        now: i64,
    ) -> ApiResult<PipelineChange> {
        let mut next = current.clone();
        next.pipeline.version += 1;
        next.pipeline.updated_at = now;
        let mut change = PipelineChange {
            next,
            changed: Vec::new(),
            kept: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
        };
        if let Some(name) = &self.name {
            change.next.pipeline.name = name.clone();
            change.changed.push("name".to_owned());
        }
        if let Some(plan) = &self.plan {
            restage(&mut change, current, plan, deals)?;
            change.changed.push("stages".to_owned());
        }
        Ok(change)
    }
}

/// Applies a new stage list: keeps the stages it names by id, adds new
/// ones, removes the rest; refuses to remove, or change the kind of, a
/// stage that holds deals.
fn restage(
    change: &mut PipelineChange,
    current: &PipelineWithStages,
    plan: &StagePlan,
    deals: &HashMap<String, i64>,
) -> ApiResult<()> {
    let existing: HashMap<&str, &stage::Model> = current.stages.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut v = Violations::new();
    for (i, spec) in plan.0.iter().enumerate() {
        if let Some(id) = spec.id
            && !existing.contains_key(id.to_string().as_str())
        {
            v.add(
                format!("pipeline.stages[{i}].id"),
                "is not a stage of this pipeline; leave it empty for a new stage",
            );
        }
    }
    v.finish()?;
    let kept: HashSet<String> = plan.0.iter().filter_map(|s| s.id.map(|u| u.to_string())).collect();
    change.removed = current
        .stages
        .iter()
        .filter(|s| !kept.contains(&s.id))
        .map(|s| s.id.clone())
        .collect();
    if let Some((id, n)) = change.removed.iter().find_map(|id| deals.get(id).map(|n| (id, n))) {
        let name = &existing[id.as_str()].name;
        return Err(not_empty(
            id,
            format!("stage {name:?} still holds {n} deal(s); move them before removing the stage"),
        ));
    }
    let (tenant, pipeline_id) = (&current.pipeline.tenant_id, &current.pipeline.id);
    change.next.stages.clear();
    for (i, spec) in plan.0.iter().enumerate() {
        let id = spec.id.map_or_else(|| new_id().to_string(), |u| u.to_string());
        let row = stage_row(tenant, pipeline_id, id.clone(), i, spec);
        match existing.get(id.as_str()) {
            Some(old) if StageKind::from_db(&old.kind) != spec.kind && deals.contains_key(&id) => {
                let why = format!("stage {:?} holds deals, so its kind cannot change", old.name);
                return Err(not_empty(&id, why));
            }
            Some(_) => change.kept.push(row.clone()),
            None => change.added.push(row.clone()),
        }
        change.next.stages.push(row);
    }
    Ok(())
}

fn not_empty(stage_id: &str, why: String) -> ApiError {
    ApiError::precondition("STAGE_NOT_EMPTY", format!("stages/{stage_id}"), why)
}

#[cfg(test)]
mod tests {
    use crm_proto::common::v1::StageKind as Kind;

    use super::*;

    fn stage(id: &str, name: &str, kind: Kind) -> pb::Stage {
        pb::Stage {
            id: id.into(),
            name: name.into(),
            kind: kind as i32,
            ..Default::default()
        }
    }

    fn created() -> PipelineWithStages {
        let req = pb::CreatePipelineRequest {
            pipeline: Some(pb::Pipeline {
                name: "Sales".into(),
                stages: vec![
                    stage("", "Lead", Kind::Open),
                    stage("", "Demo", Kind::Open),
                    stage("", "Won", Kind::Won),
                    stage("", "Lost", Kind::Lost),
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        };
        NewPipeline::parse(&req).unwrap().create(&Tenant::of_row("acme"), 1)
    }

    fn restaged(current: &PipelineWithStages, keep: &[usize]) -> PipelineUpdate {
        let mut stages: Vec<pb::Stage> = keep
            .iter()
            .map(|&i| {
                let s = &current.stages[i];
                let kind = StageKind::from_db(&s.kind).to_proto();
                stage(&s.id, &s.name, kind)
            })
            .collect();
        stages.push(stage("", "Proposal", Kind::Open));
        PipelineUpdate {
            target: Target {
                id: current.pipeline.id.clone(),
                etag: None,
            },
            name: None,
            plan: Some(StagePlan::parse(&mut Violations::new(), "pipeline.stages", &stages, true).unwrap()),
        }
    }

    #[test]
    fn a_new_stage_list_keeps_adds_and_removes_stages_in_its_order() {
        let current = created();
        let change = restaged(&current, &[0, 2, 3])
            .apply(&current, &HashMap::new(), 2)
            .unwrap();
        assert_eq!(change.removed, [current.stages[1].id.clone()]);
        assert_eq!((change.kept.len(), change.added.len()), (3, 1));
        let names: Vec<_> = change.next.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Lead", "Won", "Lost", "Proposal"]);
        assert_eq!(change.next.pipeline.version, 2);
    }

    #[test]
    fn removing_a_stage_that_holds_deals_is_a_failed_precondition() {
        let current = created();
        let deals = HashMap::from([(current.stages[1].id.clone(), 3)]);
        let err = restaged(&current, &[0, 2, 3]).apply(&current, &deals, 2).unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    }
}
