//! What nearly every deal call reads and rarely changes, kept in memory:
//! the tenant's settings, its deal field definitions, and each pipeline
//! with its stages. A deal read is then one query (the deal), a list page
//! one query (the page).
//!
//! A copy is never served stale, also across replicas: each copy is
//! labelled with the tenant's configuration version ([`Seen`]) read by the
//! statement that preceded its load (so the copy is at least that new),
//! every statement that reads deals reads the version too, and a copy is
//! used only under the version it is labelled with; otherwise it is read
//! again. Every change to the three raises the version in its own
//! transaction. The copies live at most [`crm_kit::cache::TTL`], at most
//! [`crm_kit::cache::CAPACITY`] of each kind: that bounds the memory.

use std::{collections::HashMap, sync::Arc};

use crm_fields::{Definitions, RecordType};
use crm_kit::{ApiError, ApiResult, auth::Caller, cache::Cache, tenant::Tenant};
use crm_tenancy::{Scope, roles, settings};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, QueryFilter};

use super::seen::{self, Seen};
use crate::{
    domain::PipelineWithStages,
    entity::{deal, pipeline},
};

/// A copy and the version it is labelled with.
#[derive(Debug)]
struct Labelled<T> {
    at: Seen,
    value: Arc<T>,
}

/// One kind of copy, by key.
#[derive(Debug)]
struct Copies<K, T> {
    cache: Cache<K, Labelled<T>>,
}

impl<K: Eq + std::hash::Hash + Clone, T> Copies<K, T> {
    fn new() -> Self {
        Self {
            cache: Cache::default(),
        }
    }

    /// The copy at `at`, or `load`ed (and labelled `at`).
    async fn at<E, F, Fut>(&self, key: &K, at: Seen, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(copy) = self.cache.get(key)
            && copy.at == at
        {
            return Ok(copy.value.clone());
        }
        // Missing, expired or of another version: read and stored over it
        // (no forget: under many concurrent callers each forget would stop
        // the others' loads from being kept).
        let started = std::time::Instant::now();
        let value = Arc::new(load().await?);
        self.cache.put(
            key,
            Arc::new(Labelled {
                at,
                value: value.clone(),
            }),
            started,
        );
        Ok(value)
    }

    /// Whatever copy there is, with its label.
    fn any(&self, key: &K) -> Option<(Arc<T>, Seen)> {
        self.cache.get(key).map(|c| (c.value.clone(), c.at))
    }
}

impl<K, T> Clone for Copies<K, T> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
        }
    }
}

/// The service's cached reads, on its read connections.
#[derive(Clone, Debug)]
pub struct Cached {
    reads: DatabaseConnection,
    settings: Copies<String, settings::entity::Model>,
    fields: Copies<String, Definitions>,
    pipelines: Copies<(String, String), PipelineWithStages>,
}

impl Cached {
    /// Cached reads on `reads` (see [`crm_kit::db::readers`]).
    pub fn new(reads: DatabaseConnection) -> Self {
        Self {
            settings: Copies::new(),
            fields: Copies::new(),
            pipelines: Copies::new(),
            reads,
        }
    }

    /// The connections that reads outside a transaction run on.
    pub fn reads(&self) -> &DatabaseConnection {
        &self.reads
    }

    /// The tenant's version now (a statement of its own).
    pub async fn now(&self, tenant: &Tenant) -> Result<Seen, DbErr> {
        seen::now(&self.reads, tenant).await
    }

    /// What `caller` may read, under the settings at `seen`.
    pub async fn scope(&self, caller: &Caller, seen: Seen) -> Result<Scope, ApiError> {
        if roles::sees_everything(caller) {
            return Ok(Scope::All);
        }
        let tenant = Tenant::of(caller);
        let s = self
            .settings
            .at(&tenant.id(), seen, || settings::get(&self.reads, &tenant))
            .await?;
        Ok(Scope::under(caller, &s))
    }

    /// The tenant's deal field definitions (every state) at `seen`.
    pub async fn fields(&self, tenant: &Tenant, seen: Seen) -> Result<Arc<Definitions>, DbErr> {
        self.fields
            .at(&tenant.id(), seen, || {
                crm_fields::store::load(&self.reads, tenant, RecordType::Deal)
            })
            .await
    }

    /// The version to parse and scope a request with before its query:
    /// the label of the copies it will use when they agree, else the
    /// version read now. (The query then reads the version again.)
    pub async fn label(&self, caller: &Caller) -> Result<Seen, DbErr> {
        let tenant = Tenant::of(caller);
        let id = tenant.id();
        let fields = self.fields.any(&id).map(|(_, at)| at);
        let settings = self.settings.any(&id).map(|(_, at)| at);
        match (fields, settings) {
            (Some(a), Some(b)) if a == b => Ok(a),
            (Some(a), _) if roles::sees_everything(caller) => Ok(a),
            _ => self.now(&tenant).await,
        }
    }

    /// `parse` applied to the definitions at `at`; a refusal is checked
    /// against the version stored now (another replica may have just
    /// added the field it names) and given only if `at` is still current.
    pub async fn parse_with_fields<T>(
        &self,
        tenant: &Tenant,
        at: Seen,
        parse: impl Fn(&Definitions) -> ApiResult<T>,
    ) -> ApiResult<(T, Arc<Definitions>, Seen)> {
        let defs = self.fields(tenant, at).await?;
        match parse(&defs) {
            Ok(parsed) => Ok((parsed, defs, at)),
            Err(refused) => {
                let now = self.now(tenant).await?;
                if now == at {
                    return Err(refused);
                }
                let defs = self.fields(tenant, now).await?;
                Ok((parse(&defs)?, defs, now))
            }
        }
    }

    /// The pipeline `id` with its stages as it is now, and the version
    /// seen with it, or NOT_FOUND.
    pub async fn pipeline_now(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
        id: &str,
    ) -> ApiResult<(Arc<PipelineWithStages>, Seen)> {
        let query = tenant.find::<pipeline::Entity>().filter(pipeline::Column::Id.eq(id));
        let row = seen::seen(seen::with_version(query, "pipelines")).one(conn).await?;
        let Some(row) = row else {
            return Err(ApiError::not_found("pipeline", id));
        };
        Ok((self.pipeline_at(conn, tenant, id, row.1).await?, row.1))
    }

    /// The pipeline `id` at `seen`: the copy if it is labelled so, read
    /// again on `conn` if not. NOT_FOUND if it is gone.
    pub async fn pipeline_at(
        &self,
        conn: &impl ConnectionTrait,
        tenant: &Tenant,
        id: &str,
        seen: Seen,
    ) -> ApiResult<Arc<PipelineWithStages>> {
        let key = (tenant.id(), id.to_owned());
        self.pipelines
            .at(&key, seen, || super::pipelines::get(conn, tenant, id))
            .await
    }

    /// The probability of the stage each of `rows` is in, by stage id (0
    /// for a stage that is gone), each pipeline at the version seen.
    pub async fn probabilities<'a>(
        &self,
        tenant: &Tenant,
        rows: impl IntoIterator<Item = &'a deal::Model>,
        at: Seen,
    ) -> ApiResult<HashMap<String, i32>> {
        let mut by_stage = HashMap::new();
        let mut done: Vec<&str> = Vec::new();
        for d in rows {
            if done.contains(&d.pipeline_id.as_str()) {
                continue;
            }
            done.push(&d.pipeline_id);
            match self.pipeline_at(&self.reads, tenant, &d.pipeline_id, at).await {
                Ok(p) => by_stage.extend(p.stages.iter().map(|s| (s.id.clone(), s.probability))),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(by_stage)
    }

    /// The probability of the stage `d` is in (0 if the stage is gone).
    pub async fn probability_of(&self, tenant: &Tenant, d: &deal::Model, at: Seen) -> ApiResult<i32> {
        let p = self.probabilities(tenant, [d], at).await?;
        Ok(p.get(&d.stage_id).copied().unwrap_or(0))
    }
}
