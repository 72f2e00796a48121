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
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use crm_kit::time;
use crm_proto::analytics::v1::GetFunnelResponse;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::{
    domain::{
        History, Period,
        funnel::{self, Counts},
    },
    entity::change::{self, scope},
    store,
};

/// Microseconds in a minute.
const MINUTE: i64 = 60_000_000;
/// The change log keeps an hour; a model not refreshed for half of that
/// reloads whole rather than trust a log that may have been pruned.
const KEEP_CHANGES: i64 = 60 * MINUTE;
const RELOAD_AFTER: i64 = 30 * MINUTE;
/// Pruning runs at most this often per process.
const PRUNE_EVERY: i64 = 5 * MINUTE;
/// Above this many changed deals at once a whole reload is cheaper.
const RELOAD_OVER: usize = 50_000;
/// The funnels per pipeline whose counts are kept current.
const FUNNELS: usize = 8;

type Key = (String, String);

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
    funnels: Mutex<Funnels>,
}

/// The counts of the funnels asked for last (by owner and period), kept
/// current deal by deal as deals change: a dashboard polling its funnel
/// costs the changed deals, not a pass over the pipeline.
#[derive(Debug, Default)]
struct Funnels {
    tick: u64,
    kept: Vec<Kept>,
}

/// One kept funnel.
#[derive(Debug)]
struct Kept {
    owner: Option<String>,
    period: Period,
    counts: Counts,
    // The tick it was last asked for at.
    used: u64,
}

impl Funnels {
    /// The kept funnel of `owner` in `period`, if any.
    fn find(&mut self, owner: Option<&str>, period: Period) -> Option<&mut Kept> {
        self.kept
            .iter_mut()
            .find(|k| k.owner.as_deref() == owner && k.period == period)
    }

    /// Applies `change` (which touches the distinct deals `ids` only) to `h`, and
    /// keeps the counts current: each deal's share out before, in after.
    fn change(&mut self, h: &mut History, ids: &[String], now: i64, change: impl FnOnce(&mut History)) {
        let share = |h: &History, sign: i64, kept: &mut Vec<Kept>| {
            for k in kept.iter_mut() {
                let v = h.view(k.owner.as_deref(), now);
                for id in ids {
                    k.counts.add(&funnel::deal_counts(&v, k.period, id), sign);
                }
            }
        };
        share(h, -1, &mut self.kept);
        change(h);
        share(h, 1, &mut self.kept);
    }
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
        {
            let mut f = lock();
            f.tick += 1;
            let tick = f.tick;
            if let Some(kept) = f.find(owner, period) {
                kept.used = tick;
                return funnel::reply(&v, &kept.counts);
            }
        }
        // Counted without the lock: other readers of the model go on.
        let counts = funnel::counts(&v, period);
        let reply = funnel::reply(&v, &counts);
        let mut f = lock();
        if f.find(owner, period).is_none() {
            if f.kept.len() >= FUNNELS
                && let Some(oldest) = (0..f.kept.len()).min_by_key(|&i| f.kept[i].used)
            {
                f.kept.swap_remove(oldest);
            }
            let used = f.tick;
            f.kept.push(Kept {
                owner: owner.map(str::to_owned),
                period,
                counts,
                used,
            });
        }
        reply
    }
}

/// The read models of one process.
#[derive(Debug)]
pub struct ReadModels {
    db: DatabaseConnection,
    models: Mutex<HashMap<Key, Arc<RwLock<Model>>>>,
    pruned_at: AtomicI64,
}

impl ReadModels {
    /// Read models over the projections in `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            models: Mutex::new(HashMap::new()),
            pruned_at: AtomicI64::new(time::now_micros()),
        }
    }

    fn model(&self, key: &Key) -> Arc<RwLock<Model>> {
        let mut models = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        models.entry(key.clone()).or_default().clone()
    }

    /// The pipeline's read model, brought up to date first; its board is
    /// empty when the tenant has no such pipeline.
    pub async fn read(&self, tenant: &str, pipeline_id: &str) -> Result<Snapshot, DbErr> {
        self.prune().await?;
        let key = (tenant.to_owned(), pipeline_id.to_owned());
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
            funnels.kept.clear();
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
    async fn load(&self, m: &mut Model, tenant: &str, pipeline_id: &str, now: i64) -> Result<(), DbErr> {
        let cursor = store::cursor(&self.db, tenant, pipeline_id).await?;
        let started = std::time::Instant::now();
        m.history = store::history(&self.db, tenant, pipeline_id).await?;
        m.funnels
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .kept
            .clear();
        m.cursor = cursor;
        m.applied.clear();
        m.refreshed_at = now;
        m.loaded = true;
        if !m.history.is_empty() {
            tracing::info!(
                tenant,
                pipeline_id,
                deals = m.history.len(),
                ms = started.elapsed().as_millis() as u64,
                "loaded a pipeline's read model"
            );
        }
        Ok(())
    }

    /// Drops the changes older than [`KEEP_CHANGES`], at most every [`PRUNE_EVERY`].
    async fn prune(&self) -> Result<(), DbErr> {
        let now = time::now_micros();
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY
            || self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        store::prune_changes(&self.db, now - KEEP_CHANGES).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crm_proto::common::v1::{DealStatus, StageKind};

    use super::*;
    use crate::domain::{DAY, DealRow, Stage, Transition, rng::SplitMix64};

    const STAGES: [(&str, StageKind); 5] = [
        ("lead", StageKind::Open),
        ("demo", StageKind::Open),
        ("offer", StageKind::Open),
        ("won", StageKind::Won),
        ("lost", StageKind::Lost),
    ];

    /// A deal `i` with a random history of up to four moves from day 0 on.
    fn random_deal(r: &mut SplitMix64, i: u64) -> (DealRow, Vec<Transition>) {
        let mut at = (r.next_u64() % 30) as i64 * DAY;
        let mut ts = vec![Transition {
            version: 1,
            to_stage_id: "lead".into(),
            at,
        }];
        for v in 2..=(1 + r.next_u64() % 4) as i64 {
            at += (r.next_u64() % 10) as i64 * DAY;
            let to = STAGES[(r.next_u64() % 5) as usize].0;
            ts.push(Transition {
                version: v,
                to_stage_id: to.into(),
                at,
            });
        }
        let last = ts.last().unwrap();
        let status = match last.to_stage_id.as_str() {
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => DealStatus::Open,
        };
        let currency = ["EUR", "USD"][(r.next_u64() % 2) as usize];
        let row = DealRow {
            id: format!("d{i}"),
            stage_id: last.to_stage_id.clone(),
            status,
            title: String::new(),
            owner_id: ["ana", "bo", "cy"][(r.next_u64() % 3) as usize].into(),
            amount: (!r.next_u64().is_multiple_of(4)).then(|| (currency.into(), (r.next_u64() % 5) as i64 * 100)),
            expected_close: None,
            create_time: ts[0].at,
            closed_at: (status != DealStatus::Open).then_some(last.at),
        };
        (row, ts)
    }

    #[test]
    fn kept_funnels_equal_a_fresh_count_after_every_change() {
        let stages = STAGES
            .iter()
            .map(|(id, kind)| Stage {
                id: (*id).into(),
                name: (*id).into(),
                kind: *kind,
                probability: 50,
                rotting_days: 0,
            })
            .collect();
        let mut h = History::new(stages);
        let mut r = SplitMix64::new(5);
        for i in 0..300 {
            let (d, ts) = random_deal(&mut r, i);
            h.put(d, ts);
        }
        let asked = [
            (None, Period { from: 0, to: 20 * DAY }),
            (
                Some("bo"),
                Period {
                    from: 5 * DAY,
                    to: 40 * DAY,
                },
            ),
            // An owner nobody has yet.
            (Some("dee"), Period { from: 0, to: 90 * DAY }),
        ];
        let mut f = Funnels::default();
        for (owner, period) in asked {
            let counts = funnel::counts(&h.view(owner, 0), period);
            f.kept.push(Kept {
                owner: owner.map(str::to_owned),
                period,
                counts,
                used: 0,
            });
        }
        for round in 0..100 {
            // Some deals replaced (moved, reassigned, closed), some removed, some new.
            let ids: BTreeSet<String> = (0..5).map(|_| format!("d{}", r.next_u64() % 320)).collect();
            let ids: Vec<String> = ids.into_iter().collect();
            let mut rng = SplitMix64::new(round);
            f.change(&mut h, &ids, 0, |h| {
                for (k, id) in ids.iter().enumerate() {
                    if k == 0 {
                        h.remove(id);
                        continue;
                    }
                    let (mut d, ts) = random_deal(&mut rng, 0);
                    if k == 1 {
                        d.owner_id = "dee".into();
                    }
                    d.id.clone_from(id);
                    h.put(d, ts);
                }
            });
            for k in &f.kept {
                let fresh = funnel::counts(&h.view(k.owner.as_deref(), 0), k.period);
                assert_eq!(k.counts, fresh, "round {round}, {:?}", k.owner);
            }
        }
        assert!(
            f.kept.iter().all(|k| k.counts != Counts::default()),
            "the funnels count something"
        );
    }
}
