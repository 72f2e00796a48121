//! Catching up when the service started on an empty database (a new
//! deployment beside a pipeline service that already has deals, or a
//! database restored empty): RabbitMQ only brings what happens from now on,
//! so each tenant's first read rebuilds that tenant from the pipeline
//! service's export first, under the service's own identity.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use crm_kit::{
    ApiError, ApiResult,
    auth::{Caller, TokenVerifier},
    bus::inbox,
    time,
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict};
use tokio::sync::{OnceCell, watch};

use crate::{entity::tenant, projection::CONSUMER, rebuild, source::PipelineSource};

/// How long a read waits for its tenant's catch-up before it answers
/// UNAVAILABLE (the catch-up goes on).
const WAIT: Duration = Duration::from_secs(10);

/// The user the service's own token names.
pub const SERVICE_USER: &str = "analytics";

/// Marks the database as started empty when it has consumed nothing and
/// rebuilt nothing: every tenant will then catch up on its first read.
/// Call once at startup, before the consumer runs; says whether it marked.
pub async fn mark_if_empty(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let consumed = inbox::entity::Entity::find()
        .filter(inbox::entity::Column::Consumer.eq(CONSUMER))
        .one(db)
        .await?
        .is_some();
    if consumed || tenant::Entity::find().one(db).await?.is_some() {
        return Ok(false);
    }
    let row = tenant::Model {
        tenant_id: tenant::STARTED_EMPTY.to_owned(),
        rebuilt_at: time::now_micros(),
    };
    tenant::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row))
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(true)
}

type Outcome = Option<Result<(), String>>;

/// The catch-ups of one process.
#[derive(Clone, Debug)]
pub struct CatchUp {
    db: DatabaseConnection,
    source: PipelineSource,
    verifier: Arc<TokenVerifier>,
    started_empty: Arc<OnceCell<bool>>,
    done: Arc<Mutex<HashSet<String>>>,
    running: Arc<Mutex<HashMap<String, watch::Receiver<Outcome>>>>,
}

impl CatchUp {
    /// Catch-ups of `db` from `source`, calling it with tokens of `verifier`.
    pub fn new(db: DatabaseConnection, source: PipelineSource, verifier: Arc<TokenVerifier>) -> Self {
        Self {
            db,
            source,
            verifier,
            started_empty: Arc::new(OnceCell::new()),
            done: Arc::new(Mutex::new(HashSet::new())),
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Returns once `tenant` is caught up (at once when there is nothing to
    /// do); UNAVAILABLE while a catch-up runs longer than [`WAIT`] or failed.
    pub async fn ensure(&self, tenant: &str) -> ApiResult<()> {
        if self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(tenant)
        {
            return Ok(());
        }
        let started_empty = self
            .started_empty
            .get_or_try_init(|| async {
                let row = tenant::Entity::find_by_id(tenant::STARTED_EMPTY).one(&self.db).await?;
                Ok::<_, DbErr>(row.is_some())
            })
            .await?;
        if !started_empty || tenant::Entity::find_by_id(tenant).one(&self.db).await?.is_some() {
            self.done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(tenant.to_owned());
            return Ok(());
        }
        let mut outcome = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            running
                .entry(tenant.to_owned())
                .or_insert_with(|| self.start(tenant))
                .clone()
        };
        let finished = tokio::time::timeout(WAIT, outcome.wait_for(Option::is_some))
            .await
            .map(|r| r.ok().and_then(|v| v.clone()));
        match finished {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(_) => {
                self.forget_failed(tenant);
                Err(ApiError::Unavailable(
                    "the pipeline service (analytics catches up from it)",
                ))
            }
            Err(_) => Err(ApiError::Unavailable(
                "analytics (it is catching up with the pipeline service)",
            )),
        }
    }

    fn forget_failed(&self, tenant: &str) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running
            .get(tenant)
            .is_some_and(|rx| matches!(&*rx.borrow(), Some(Err(_))))
        {
            running.remove(tenant);
        }
    }

    /// Runs the tenant's rebuild in the background; the receiver says how it ended.
    fn start(&self, tenant: &str) -> watch::Receiver<Outcome> {
        let (tx, rx) = watch::channel(None);
        let this = self.clone();
        let tenant = tenant.to_owned();
        tokio::spawn(async move {
            let caller = Caller {
                user_id: SERVICE_USER.to_owned(),
                tenant_id: tenant.clone(),
                roles: vec!["service".to_owned()],
                token: this.verifier.mint(&tenant, SERVICE_USER, &["service"], 3600),
            };
            tracing::info!(tenant = %tenant, "catching up from the pipeline service's export");
            let result = rebuild::rebuild(&this.db, &caller, &this.source).await;
            match &result {
                Ok(done) => {
                    tracing::info!(tenant = %tenant, deals = done.deals, "caught up");
                    this.done
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(tenant.clone());
                }
                Err(e) => tracing::warn!(tenant = %tenant, error = %e, "catching up failed; the next read retries"),
            }
            let _ = tx.send(Some(result.map(|_| ()).map_err(|e| e.to_string())));
        });
        rx
    }
}
