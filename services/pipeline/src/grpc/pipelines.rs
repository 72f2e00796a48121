//! Pipeline RPCs: create, get, list, update (stages included), delete.

use std::collections::{HashMap, HashSet};

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    time,
    validate::{Violations, new_id, parse_id, parse_target},
};
use crm_proto::{events::v1 as ev, pipeline::v1 as pb};
use sea_orm::TransactionTrait;

use super::{Pipelines, convert, mask_paths};
use crate::{
    domain::{StageKind, StagePlan},
    entity::{pipeline, stage},
    events::{self, types},
    store::{self, PipelineWithStages},
};

/// The longest pipeline name.
const MAX_NAME: usize = 100;

impl Pipelines {
    pub(super) async fn create_pipeline(
        &self,
        caller: Caller,
        req: pb::CreatePipelineRequest,
    ) -> ApiResult<pb::CreatePipelineResponse> {
        let key = RequestKey::parse("CreatePipeline", &req.request_id, &req)?;
        let input = req.pipeline.unwrap_or_default();
        let mut v = Violations::new();
        let name = v.required_text("pipeline.name", &input.name, MAX_NAME);
        let plan = StagePlan::parse(&mut v, "pipeline.stages", &input.stages, false);
        let plan = v.finish_with(plan)?;
        let tenant = caller.tenant_id.as_str();

        let txn = self.db.begin().await?;
        if let Some(key) = &key
            && let Some(id) = key.find(&txn, tenant).await?
        {
            let existing = store::pipelines::find(&txn, tenant, &id)
                .await?
                .ok_or_else(|| ApiError::not_found("pipeline", id))?;
            return Ok(pb::CreatePipelineResponse {
                pipeline: Some(convert::pipeline(&existing)),
            });
        }
        let now = time::now_micros();
        let id = new_id().to_string();
        let stages = plan.0.iter().enumerate();
        let created = PipelineWithStages {
            pipeline: pipeline::Model {
                id: id.clone(),
                tenant_id: tenant.to_owned(),
                name,
                version: 1,
                created_at: now,
                updated_at: now,
            },
            stages: stages
                .map(|(i, s)| store::pipelines::new_stage(tenant, &id, new_id().to_string(), i as i32, s))
                .collect(),
        };
        store::pipelines::insert(&txn, &created).await?;
        if let Some(key) = &key {
            key.remember(&txn, tenant, &id).await?;
        }
        let reply = convert::pipeline(&created);
        let payload = ev::PipelineCreated {
            pipeline: Some(reply.clone()),
        };
        events::append(&txn, &caller, types::PIPELINE_CREATED, &reply.id, 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::CreatePipelineResponse { pipeline: Some(reply) })
    }

    pub(super) async fn get_pipeline(
        &self,
        caller: Caller,
        req: pb::GetPipelineRequest,
    ) -> ApiResult<pb::GetPipelineResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let found = store::pipelines::find(&self.db, &caller.tenant_id, &id).await?;
        let p = found.ok_or_else(|| ApiError::not_found("pipeline", id))?;
        Ok(pb::GetPipelineResponse {
            pipeline: Some(convert::pipeline(&p)),
        })
    }

    pub(super) async fn list_pipelines(
        &self,
        caller: Caller,
        req: pb::ListPipelinesRequest,
    ) -> ApiResult<pb::ListPipelinesResponse> {
        const QUERY: &str = "pipelines";
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<String>(req.page_size, &req.page_token, QUERY)?;
        let tenant = caller.tenant_id.as_str();
        let mut rows = store::pipelines::list(&self.db, tenant, page.after.as_deref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, QUERY, |p| p.id.clone());
        let ids: Vec<String> = rows.iter().map(|p| p.id.clone()).collect();
        let mut stages = store::pipelines::stages_of(&self.db, tenant, &ids).await?;
        let pipelines = rows
            .into_iter()
            .map(|p| {
                let stages = stages.remove(&p.id).unwrap_or_default();
                convert::pipeline(&PipelineWithStages { pipeline: p, stages })
            })
            .collect();
        Ok(pb::ListPipelinesResponse {
            pipelines,
            next_page_token,
        })
    }

    pub(super) async fn update_pipeline(
        &self,
        caller: Caller,
        req: pb::UpdatePipelineRequest,
    ) -> ApiResult<pb::UpdatePipelineResponse> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.pipeline.unwrap_or_default();
        let mut v = Violations::new();
        let id = v.required_id("pipeline.id", &input.id).map(|u| u.to_string());
        let given_etag = v.absorb(etag::parse("pipeline.etag", &input.etag)).flatten();
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
        let id = v.finish_with(id)?;
        let tenant = caller.tenant_id.as_str();

        let txn = self.db.begin().await?;
        let current = store::pipelines::find(&txn, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("pipeline", &id))?;
        etag::check("pipeline", &id, given_etag, current.pipeline.version)?;
        let now = time::now_micros();
        let mut next = current.clone();
        next.pipeline.version += 1;
        next.pipeline.updated_at = now;
        let mut changed = Vec::new();
        if let Some(name) = name {
            next.pipeline.name = name;
            changed.push("name".to_owned());
        }
        let mut removed = Vec::new();
        if let Some(plan) = plan {
            let (stages, gone) = self.restage(&txn, tenant, &current, &plan).await?;
            next.stages = stages;
            removed = gone;
            changed.push("stages".to_owned());
        }
        if !store::pipelines::update_guarded(&txn, &next.pipeline, current.pipeline.version).await? {
            return Err(ApiError::Conflict);
        }
        let reply = convert::pipeline(&next);
        let payload = ev::PipelineUpdated {
            pipeline: Some(reply.clone()),
            changed_fields: changed,
            removed_stage_ids: removed,
        };
        events::append(
            &txn,
            &caller,
            types::PIPELINE_UPDATED,
            &reply.id,
            next.pipeline.version,
            &payload,
        )
        .await?;
        txn.commit().await?;
        Ok(pb::UpdatePipelineResponse { pipeline: Some(reply) })
    }

    /// Applies a new stage list: keeps stages named by id, adds new ones,
    /// removes the rest. Refuses to remove, or change the kind of, a stage
    /// that holds deals. Returns the new stages and the removed ids.
    async fn restage(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        tenant: &str,
        current: &PipelineWithStages,
        plan: &StagePlan,
    ) -> ApiResult<(Vec<stage::Model>, Vec<String>)> {
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
        let removed: Vec<String> = current
            .stages
            .iter()
            .filter(|s| !kept.contains(&s.id))
            .map(|s| s.id.clone())
            .collect();
        let counts = store::pipelines::deal_counts(txn, tenant, current.stages.iter().map(|s| s.id.clone())).await?;
        for id in &removed {
            if let Some(n) = counts.get(id) {
                let name = &existing[id.as_str()].name;
                return Err(ApiError::precondition(
                    "STAGE_NOT_EMPTY",
                    format!("stages/{id}"),
                    format!("stage {name:?} still holds {n} deal(s); move them before removing the stage"),
                ));
            }
        }
        let (mut stages, mut kept_rows, mut added) = (Vec::new(), Vec::new(), Vec::new());
        for (i, spec) in plan.0.iter().enumerate() {
            let id = spec.id.map_or_else(|| new_id().to_string(), |u| u.to_string());
            let row = store::pipelines::new_stage(tenant, &current.pipeline.id, id.clone(), i as i32, spec);
            match existing.get(id.as_str()) {
                Some(old) => {
                    if StageKind::from_db(&old.kind) != spec.kind && counts.contains_key(&id) {
                        return Err(ApiError::precondition(
                            "STAGE_NOT_EMPTY",
                            format!("stages/{id}"),
                            format!("stage {:?} holds deals, so its kind cannot change", old.name),
                        ));
                    }
                    kept_rows.push(row.clone());
                }
                None => added.push(row.clone()),
            }
            stages.push(row);
        }
        store::pipelines::replace_stages(txn, tenant, &removed, &kept_rows, &added).await?;
        Ok((stages, removed))
    }

    pub(super) async fn delete_pipeline(
        &self,
        caller: Caller,
        req: pb::DeletePipelineRequest,
    ) -> ApiResult<pb::DeletePipelineResponse> {
        let (id, given_etag) = parse_target(&req.id, &req.etag)?;
        let id = id.to_string();
        let tenant = caller.tenant_id.as_str();
        let txn = self.db.begin().await?;
        let current = store::pipelines::find(&txn, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("pipeline", &id))?;
        etag::check("pipeline", &id, given_etag, current.pipeline.version)?;
        if store::pipelines::has_deals(&txn, tenant, &id).await? {
            return Err(ApiError::precondition(
                "PIPELINE_NOT_EMPTY",
                format!("pipelines/{id}"),
                "the pipeline still holds deals; delete or move them first",
            ));
        }
        store::pipelines::delete(&txn, tenant, &id).await?;
        let payload = ev::PipelineDeleted {
            pipeline_id: id.clone(),
        };
        let reply = convert::pipeline(&current);
        events::append(
            &txn,
            &caller,
            types::PIPELINE_DELETED,
            &reply.id,
            current.pipeline.version + 1,
            &payload,
        )
        .await?;
        txn.commit().await?;
        Ok(pb::DeletePipelineResponse {})
    }
}
