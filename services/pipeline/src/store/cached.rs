//! What nearly every call reads and rarely changes, kept in memory: the
//! tenant's settings, its deal field definitions, and each pipeline with
//! its stages. A deal read is then one query (the deal), a list page one
//! query (the page). How fresh each is: [`crm_kit::cache`] (this service's
//! own changes at once; another replica's within [`crm_kit::cache::TTL`]).
//!
//! Writes do not trust the cached pipeline blindly: they read the
//! pipeline's version with what they change ([`Cached::pipeline_now`],
//! [`Cached::pipeline_at`]) and read the pipeline again when it moved on,
//! so a move never lands in a stage that another replica has just removed.

use std::{collections::HashMap, sync::Arc};

use crm_fields::{Definitions, RecordType, store::Catalog};
use crm_kit::{ApiError, ApiResult, cache::Cache, tenant::Tenant};
use crm_tenancy::Settings;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, QueryFilter, QuerySelect};

use crate::{
    domain::PipelineWithStages,
    entity::{deal, pipeline},
};

/// The service's cached reads, on its read connections.
#[derive(Clone, Debug)]
pub struct Cached {
    reads: DatabaseConnection,
    /// The tenants' settings (visibility).
    pub settings: Settings,
    fields: Catalog,
    pipelines: Cache<(String, String), PipelineWithStages>,
}

impl Cached {
    /// Cached reads on `reads` (see [`crm_kit::db::readers`]).
    pub fn new(reads: DatabaseConnection) -> Self {
        Self {
            settings: Settings::new(reads.clone()),
            fields: Catalog::new(reads.clone()),
            pipelines: Cache::default(),
            reads,
        }
    }

    /// The connections that reads outside a transaction run on.
    pub fn reads(&self) -> &DatabaseConnection {
        &self.reads
    }

    /// The tenant's deal field definitions (every state).
    pub async fn fields(&self, tenant: &Tenant) -> Result<Arc<Definitions>, DbErr> {
        self.fields.load(tenant, RecordType::Deal).await
    }

    /// Forgets the tenant's definitions once a change to them committed.
    pub fn forget_fields(&self, tenant: &Tenant) {
        self.fields.forget(tenant);
    }

    /// The pipeline `id` with its stages, or NOT_FOUND.
    pub async fn pipeline(&self, tenant: &Tenant, id: &str) -> ApiResult<Arc<PipelineWithStages>> {
        let key = (tenant.id(), id.to_owned());
        self.pipelines
            .get_or_load(&key, || super::pipelines::get(&self.reads, tenant, id))
            .await
    }

    /// The pipeline `id` as it is now: its version read on `conn`, and the
    /// cached pipeline if it is at that version, read again (on `conn`) if
    /// not. NOT_FOUND if it is gone.
    pub async fn pipeline_now(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
        id: &str,
    ) -> ApiResult<Arc<PipelineWithStages>> {
        let version: Option<i64> = tenant
            .find::<pipeline::Entity>()
            .select_only()
            .column(pipeline::Column::Version)
            .filter(pipeline::Column::Id.eq(id))
            .into_tuple()
            .one(conn)
            .await?;
        self.pipeline_at(conn, tenant, id, version).await
    }

    /// The pipeline `id` at `version` (just read with the deal, see
    /// [`super::deals::get_with_pipeline_version`]): the cached one if it is
    /// at that version, read again on `conn` if not. NOT_FOUND if it is gone
    /// (`version` is `None`).
    pub async fn pipeline_at(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
        id: &str,
        version: Option<i64>,
    ) -> ApiResult<Arc<PipelineWithStages>> {
        let Some(version) = version else {
            return Err(ApiError::not_found("pipeline", id));
        };
        if let Some(cached) = self.pipelines.get(&(tenant.id(), id.to_owned()))
            && cached.pipeline.version == version
        {
            return Ok(cached);
        }
        self.forget_pipeline(tenant, id);
        Ok(Arc::new(super::pipelines::get(conn, tenant, id).await?))
    }

    /// Forgets the pipeline once a change to it committed.
    pub fn forget_pipeline(&self, tenant: &Tenant, id: &str) {
        self.pipelines.forget(&(tenant.id(), id.to_owned()));
    }

    /// The probability of the stage each of `deals` is in, by stage id (0
    /// for a stage that is gone).
    pub async fn probabilities<'a>(
        &self,
        tenant: &Tenant,
        deals: impl IntoIterator<Item = &'a deal::Model>,
    ) -> ApiResult<HashMap<String, i32>> {
        let mut by_stage = HashMap::new();
        let mut seen: Vec<&str> = Vec::new();
        for d in deals {
            if seen.contains(&d.pipeline_id.as_str()) {
                continue;
            }
            seen.push(&d.pipeline_id);
            match self.pipeline(tenant, &d.pipeline_id).await {
                Ok(p) => by_stage.extend(p.stages.iter().map(|s| (s.id.clone(), s.probability))),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(by_stage)
    }

    /// The probability of the stage `d` is in (0 if the stage is gone).
    pub async fn probability_of(&self, tenant: &Tenant, d: &deal::Model) -> ApiResult<i32> {
        let p = self.probabilities(tenant, [d]).await?;
        Ok(p.get(&d.stage_id).copied().unwrap_or(0))
    }
}
