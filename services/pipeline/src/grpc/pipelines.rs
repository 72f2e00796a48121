//! Pipeline RPCs: create, get, list, update (stages included), delete.
//! The rules of a stage list and of changing it are in
//! [`crate::domain::pipeline`].

use crm_kit::{
    ApiError, ApiResult, auth::Caller, cache::config_versions, etag::Target, idempotency::RequestKey, tenant::Tenant,
    time, validate::parse_id,
};
use crm_proto::pipeline::v1 as pb;
use sea_orm::TransactionTrait;

use super::Pipelines;
use crate::{
    convert,
    domain::{NewPipeline, PipelineUpdate, PipelineWithStages},
    events, store,
};

impl Pipelines {
    pub(super) async fn create_pipeline(
        &self,
        caller: Caller,
        req: pb::CreatePipelineRequest,
    ) -> ApiResult<pb::CreatePipelineResponse> {
        let key = RequestKey::parse("CreatePipeline", &req.request_id, &req)?;
        let new = NewPipeline::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        if let Some(id) = key.created_before(&txn, &tenant).await? {
            let existing = store::pipelines::get(&txn, &tenant, &id).await?;
            let pipeline = Some(convert::pipeline(&existing));
            return Ok(pb::CreatePipelineResponse { pipeline });
        }
        let created = new.create(&tenant, time::now_micros());
        store::pipelines::insert(&txn, &created).await?;
        key.remember(&txn, &tenant, &created.pipeline.id).await?;
        events::pipeline_created(&txn, &caller, &created).await?;
        txn.commit().await?;
        let pipeline = Some(convert::pipeline(&created));
        Ok(pb::CreatePipelineResponse { pipeline })
    }

    pub(super) async fn get_pipeline(
        &self,
        caller: Caller,
        req: pb::GetPipelineRequest,
    ) -> ApiResult<pb::GetPipelineResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let p = store::pipelines::get(self.reads(), &Tenant::of(&caller), &id).await?;
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
        let tenant = Tenant::of(&caller);
        let mut rows = store::pipelines::list(self.reads(), &tenant, page.after.as_deref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, QUERY, |p| p.id.clone());
        let ids: Vec<String> = rows.iter().map(|p| p.id.clone()).collect();
        let mut stages = store::pipelines::stages_of(self.reads(), &tenant, &ids).await?;
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
        let update = PipelineUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        let current = store::pipelines::get(&txn, &tenant, &update.target.id).await?;
        update.target.check(&current.pipeline)?;
        let deals = match update.restages() {
            true => store::pipelines::deal_counts(&txn, &tenant, current.stages.iter().map(|s| s.id.clone())).await?,
            false => Default::default(),
        };
        let change = update.apply(&current, &deals, time::now_micros())?;
        store::pipelines::save(&txn, &tenant, &change, current.pipeline.version).await?;
        events::pipeline_updated(&txn, &caller, &change).await?;
        config_versions::bump(&txn, &tenant).await?;
        txn.commit().await?;
        let pipeline = Some(convert::pipeline(&change.next));
        Ok(pb::UpdatePipelineResponse { pipeline })
    }

    pub(super) async fn delete_pipeline(
        &self,
        caller: Caller,
        req: pb::DeletePipelineRequest,
    ) -> ApiResult<pb::DeletePipelineResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        let current = store::pipelines::get(&txn, &tenant, &target.id).await?;
        target.check(&current.pipeline)?;
        if store::pipelines::has_deals(&txn, &tenant, &target.id).await? {
            return Err(ApiError::precondition(
                "PIPELINE_NOT_EMPTY",
                format!("pipelines/{}", target.id),
                "the pipeline still holds deals; delete or move them first",
            ));
        }
        store::pipelines::delete(&txn, &tenant, &current).await?;
        events::pipeline_deleted(&txn, &caller, &current).await?;
        config_versions::bump(&txn, &tenant).await?;
        txn.commit().await?;
        Ok(pb::DeletePipelineResponse {})
    }
}
