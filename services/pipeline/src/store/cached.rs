//! What nearly every deal call reads and rarely changes, kept in memory:
//! the tenant's settings, its deal field definitions, and each pipeline
//! with its stages. A deal read is then one query (the deal), a list page
//! one query (the page).
//!
//! A copy is never served stale: every statement that reads deals also
//! reads the versions of these three ([`Seen`]), and a copy is used only
//! at the version the database holds now, read again otherwise. So another
//! replica's change is seen at once, as the service's own is. The copies
//! themselves live at most [`crm_kit::cache::TTL`] and [`crm_kit::cache::CAPACITY`]
//! of each are kept, which bounds the memory, not the freshness.

use std::{collections::HashMap, sync::Arc};

use crm_fields::{Definitions, RecordType, store::Catalog};
use crm_kit::{ApiError, ApiResult, auth::Caller, cache::Cache, tenant::Tenant};
use crm_tenancy::{Scope, Settings, roles};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, QueryFilter};

use super::seen::{self, Seen, fields_stamp};
use crate::{
    domain::PipelineWithStages,
    entity::{deal, pipeline},
};

/// The service's cached reads, on its read connections.
#[derive(Clone, Debug)]
pub struct Cached {
    reads: DatabaseConnection,
    settings: Settings,
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

    /// What `caller` may read, with the settings at the version `seen`.
    pub async fn scope(&self, caller: &Caller, seen: &Seen) -> Result<Scope, ApiError> {
        if roles::sees_everything(caller) {
            return Ok(Scope::All);
        }
        let tenant = Tenant::of(caller);
        let mut settings = self.settings.get(&tenant).await?;
        if settings.version != seen.settings {
            self.settings.forget(&tenant.id());
            settings = self.settings.get(&tenant).await?;
        }
        Ok(Scope::under(caller, &settings))
    }

    /// What `caller` may read, from the cached settings as they are (for a
    /// filter built before its query; the query's [`Seen`] then checks them).
    pub async fn scope_as_cached(&self, caller: &Caller) -> Result<(Scope, i64), ApiError> {
        let settings = self.settings.get(&Tenant::of(caller)).await?;
        Ok((Scope::under(caller, &settings), settings.version))
    }

    /// Forgets the tenant's settings once a change to them committed.
    pub fn forget_settings(&self, tenant: &Tenant) {
        self.settings.forget(&tenant.id());
    }

    /// The tenant's deal field definitions (every state) as cached, and
    /// their stamp (see [`fields_stamp`]).
    pub async fn fields(&self, tenant: &Tenant) -> Result<(Arc<Definitions>, i64), DbErr> {
        let defs = self.fields.load(tenant, RecordType::Deal).await?;
        let stamp = fields_stamp(&defs);
        Ok((defs, stamp))
    }

    /// The tenant's definitions at the stamp `seen`.
    pub async fn fields_at(&self, tenant: &Tenant, seen: &Seen) -> Result<Arc<Definitions>, DbErr> {
        let (defs, stamp) = self.fields(tenant).await?;
        if stamp == seen.fields {
            return Ok(defs);
        }
        self.fields.forget(tenant);
        Ok(self.fields(tenant).await?.0)
    }

    /// `parse` applied to the tenant's definitions as cached, with them and
    /// their stamp. A refusal is checked against the definitions as stored
    /// (another replica may have just added the field it names) and given
    /// only if they were current.
    pub async fn parse_with_fields<T>(
        &self,
        tenant: &Tenant,
        parse: impl Fn(&Definitions) -> ApiResult<T>,
    ) -> ApiResult<(T, Arc<Definitions>, i64)> {
        let (defs, stamp) = self.fields(tenant).await?;
        match parse(&defs) {
            Ok(parsed) => Ok((parsed, defs, stamp)),
            Err(refused) => {
                let now = seen::tenant_stamps(&self.reads, tenant).await?;
                if now.fields == stamp {
                    return Err(refused);
                }
                self.fields.forget(tenant);
                let (defs, stamp) = self.fields(tenant).await?;
                Ok((parse(&defs)?, defs, stamp))
            }
        }
    }

    /// Forgets the tenant's definitions once a change to them committed.
    pub fn forget_fields(&self, tenant: &Tenant) {
        self.fields.forget(tenant);
    }

    /// The pipeline `id` with its stages as it is now, with what was seen
    /// in the same query (for a new deal: the definitions' stamp), or
    /// NOT_FOUND.
    pub async fn pipeline_now(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
        id: &str,
    ) -> ApiResult<(Arc<PipelineWithStages>, Seen)> {
        let query = tenant.find::<pipeline::Entity>().filter(pipeline::Column::Id.eq(id));
        let row = seen::seen(seen::with_pipeline_stamps(query)).one(conn).await?;
        let Some(row) = row else {
            return Err(ApiError::not_found("pipeline", id));
        };
        let p = self.pipeline_at(conn, tenant, id, row.1.pipeline).await?;
        Ok((p, row.1))
    }

    /// The pipeline `id` at `version` (read with the rows of the same
    /// statement): the cached one if it is at that version, read again on
    /// `conn` if not. NOT_FOUND if it is gone (`version` is `None`).
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
        let key = (tenant.id(), id.to_owned());
        if let Some(cached) = self.pipelines.get(&key)
            && cached.pipeline.version == version
        {
            return Ok(cached);
        }
        self.pipelines.forget(&key);
        let fresh = self
            .pipelines
            .get_or_load(&key, || super::pipelines::get(conn, tenant, id))
            .await?;
        Ok(fresh)
    }

    /// Forgets the pipeline once a change to it committed.
    pub fn forget_pipeline(&self, tenant: &Tenant, id: &str) {
        self.pipelines.forget(&(tenant.id(), id.to_owned()));
    }

    /// The probability of the stage each of `rows` is in, by stage id (0
    /// for a stage that is gone), each pipeline at the version seen with
    /// its row.
    pub async fn probabilities<'a>(
        &self,
        tenant: &Tenant,
        rows: impl IntoIterator<Item = (&'a deal::Model, Option<i64>)>,
    ) -> ApiResult<HashMap<String, i32>> {
        let mut by_stage = HashMap::new();
        let mut seen: Vec<&str> = Vec::new();
        for (d, version) in rows {
            if seen.contains(&d.pipeline_id.as_str()) {
                continue;
            }
            seen.push(&d.pipeline_id);
            match self.pipeline_at(&self.reads, tenant, &d.pipeline_id, version).await {
                Ok(p) => by_stage.extend(p.stages.iter().map(|s| (s.id.clone(), s.probability))),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(by_stage)
    }

    /// The probability of the stage `d` is in (0 if the stage is gone).
    pub async fn probability_of(&self, tenant: &Tenant, d: &deal::Model, seen: &Seen) -> ApiResult<i32> {
        let p = self.probabilities(tenant, [(d, seen.pipeline)]).await?;
        Ok(p.get(&d.stage_id).copied().unwrap_or(0))
    }
}
