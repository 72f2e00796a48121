//! The in-memory read models: one [`History`] per (tenant, pipeline), loaded
//! from the projection tables on first use and kept current from the change
//! log (`analytics_changes`) that the projector writes in the same
//! transaction as the rows. Every read first asks the log for what changed
//! since the model's cursor (on PostgreSQL a snapshot's xmin, so a change
//! that commits late is never skipped; see [`store::cursor`]) and reloads
//! just those deals, so a reply reflects every event committed before the call,
//! whichever replica's consumer applied it, and each report is a pass over
//! memory instead of a million rows.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use crm_kit::{tenant::Tenant, time};
use crm_proto::analytics::v1::GetFunnelResponse;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::{
    domain::{History, Period, funnel, kept::KeptFunnels},
    entity::change::{self, scope},
    store,
};

/// A model not refreshed for half of what the change log keeps reloads
/// whole rather than trust a log that may have been pruned meanwhile.
const RELOAD_AFTER: i64 = crate::pruning::KEEP_CHANGES / 2;
/// Above this many changed deals at once a whole reload is cheaper.
const RELOAD_OVER: usize = 50_000;

type Key = (Tenant, String);

/// One pipeline's read model.
#[derive(Debug, Default)]
pub struct Model {
    history: History,
    // Where to read the log from next, the changes at or after it already
    // applied (seq to position), and when the log was last read (µs).
    cursor: i64,
    applied: HashMap<i64, i64>,
    refreshed_at: i64,
    loaded: bool,
    funnels: Mutex<KeptFunnels>,
}

impl Model {
    fn is_new(&self, c: &crate::entity::change::Model) -> bool {
        !self.applied.contains_key(&c.seq)
    }
}

/// A read model as one request sees it, current as of the request.
#[derive(Debug)]
pub struct Snapshot(OwnedRwLockReadGuard<Model>);

impl Snapshot {
    /// The pipeline's history.
    pub fn history(&self) -> &History {
        &self.0.history
    }

    /// GetFunnel over `owner`'s deals (or all) in `period`: from the kept
    /// counts when this funnel was asked for lately, else counted afresh
    /// (a pass over the pipeline) and kept.
    pub fn funnel(&self, owner: Option<&str>, period: Period, now: i64) -> GetFunnelResponse {
        let v = self.0.history.view(owner, now);
        let lock = || self.0.funnels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = lock().get(owner, period);
        if let Some(counts) = kept {
            return funnel::reply(&v, &counts);
        }
        // Counted without the lock: other readers of the model go on.
        let counts = funnel::counts(&v, period);
        let reply = funnel::reply(&v, &counts);
        lock().keep(owner, period, counts);
        reply
    }
}

/// The read models of one process.
#[derive(Debug)]
pub struct ReadModels {
    db: DatabaseConnection,
    models: Mutex<HashMap<Key, Arc<RwLock<Model>>>>,
}

impl ReadModels {
    /// Read models over the projections in `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            models: Mutex::new(HashMap::new()),
        }
    }

    fn model(&self, key: &Key) -> Arc<RwLock<Model>> {
        let mut models = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        models.entry(key.clone()).or_default().clone()
    }

    /// The pipeline's read model, brought up to date first; its board is
    /// empty when the tenant has no such pipeline.
    pub async fn read(&self, tenant: &Tenant, pipeline_id: &str) -> Result<Snapshot, DbErr> {
        let key = (tenant.clone(), pipeline_id.to_owned());
        let model = self.model(&key);
        let now = time::now_micros();
        let mut fetched = None;
        {
            let m = model.clone().read_owned().await;
            if m.loaded && now - m.refreshed_at < RELOAD_AFTER {
                // Nothing at or after the cursor: current. Anything else (even
                // changes applied before) goes through a refresh, which also
                // moves the cursor on so they are not read again.
                let (changes, next) = store::changes_since(&self.db, tenant, pipeline_id, m.cursor).await?;
                if changes.is_empty() {
                    return Ok(Snapshot(m));
                }
                fetched = Some((m.cursor, changes, next));
            }
        }
        let mut m = model.write_owned().await;
        self.refresh(&mut m, &key, now, fetched).await?;
        if m.history.stages().is_empty() && m.history.is_empty() {
            // Nothing to keep: an unknown pipeline costs no memory.
            let mut models = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            models.remove(&key);
        }
        Ok(Snapshot(m.downgrade()))
    }

    /// Brings `m` up to date; `fetched` is what the log held at a cursor
    /// (used when `m` is still at that cursor, rather than asking again).
    async fn refresh(
        &self,
        m: &mut Model,
        (tenant, pipeline_id): &Key,
        now: i64,
        fetched: Option<(i64, Vec<change::Model>, i64)>,
    ) -> Result<(), DbErr> {
        if !m.loaded || now - m.refreshed_at >= RELOAD_AFTER {
            return self.load(m, tenant, pipeline_id, now).await;
        }
        let (mut changes, next) = match fetched {
            Some((at, changes, next)) if at == m.cursor => (changes, next),
            _ => store::changes_since(&self.db, tenant, pipeline_id, m.cursor).await?,
        };
        changes.retain(|c| m.is_new(c));
        let deals: BTreeSet<String> = changes.iter().filter_map(|c| c.deal_id.clone()).collect();
        if changes.iter().any(|c| c.scope == scope::ALL) || deals.len() > RELOAD_OVER {
            return self.load(m, tenant, pipeline_id, now).await;
        }
        let funnels = m.funnels.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        if changes.iter().any(|c| c.scope == scope::STAGES) {
            m.history
                .set_stages(store::stages(&self.db, tenant, pipeline_id).await?);
            // Board positions may have moved: count afresh.
            funnels.clear();
        }
        let ids: Vec<String> = deals.into_iter().collect();
        let rows = store::deals(&self.db, tenant, &ids).await?;
        funnels.change(&mut m.history, &ids, now, |h| {
            let live: HashSet<&str> = rows.iter().map(|(d, _)| d.id.as_str()).collect();
            for gone in ids.iter().filter(|id| !live.contains(id.as_str())) {
                h.remove(gone);
            }
            for (deal, transitions) in rows {
                h.put(deal, transitions);
            }
        });
        m.applied.extend(changes.iter().map(|c| (c.seq, store::position(c))));
        m.applied.retain(|_, position| *position >= next);
        m.cursor = next;
        m.refreshed_at = now;
        Ok(())
    }

    /// Loads the whole pipeline. The log cursor is taken first, so a change
    /// committed during the load is applied (again, harmlessly) next time.
    async fn load(&self, m: &mut Model, tenant: &Tenant, pipeline_id: &str, now: i64) -> Result<(), DbErr> {
        let cursor = store::cursor(&self.db, tenant, pipeline_id).await?;
        let started = std::time::Instant::now();
        m.history = store::history(&self.db, tenant, pipeline_id).await?;
        m.funnels
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        m.cursor = cursor;
        m.applied.clear();
        m.refreshed_at = now;
        m.loaded = true;
        if !m.history.is_empty() {
            tracing::info!(
                tenant = tenant.as_str(),
                pipeline_id,
                deals = m.history.len(),
                ms = started.elapsed().as_millis() as u64,
                "loaded a pipeline's read model"
            );
        }
        Ok(())
    }
}
