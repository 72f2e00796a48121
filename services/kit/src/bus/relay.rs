//! The outbox relay: publishes a service's pending outbox rows in order and
//! marks each sent only after the publisher confirmed it.
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! replicas can run the relay without publishing a row twice in the normal
//! case (a crash between the broker's confirm and the commit republishes
//! it; consumers are idempotent for exactly that case). While the broker is
//! down the rows stay, and the relay retries with backoff.

use std::{sync::Arc, time::Duration};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType},
};

use super::{Message, Publisher};
use crate::outbox::entity as outbox;

/// Publishes one service's outbox.
#[derive(Clone)]
pub struct Relay {
    db: DatabaseConnection,
    publisher: Arc<dyn Publisher>,
    batch: u64,
    idle: Duration,
    service: String,
}

impl Relay {
    /// A relay of `db`'s outbox through `publisher`.
    pub fn new(db: DatabaseConnection, publisher: Arc<dyn Publisher>) -> Self {
        Self {
            db,
            publisher,
            batch: 100,
            // An event waits at most this long in an idle outbox: the poll
            // is one indexed query that finds nothing.
            idle: Duration::from_millis(20),
            service: "unknown".to_owned(),
        }
    }

    /// Labels this relay's metrics with `service` (the outbox's owner).
    pub fn named(mut self, service: &str) -> Self {
        service.clone_into(&mut self.service);
        self
    }

    /// Publishes pending rows until none is left or the publisher fails;
    /// returns how many were published.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let (published, done) = self.publish_batch().await?;
            total += published;
            if done {
                return Ok(total);
            }
        }
    }

    /// One claimed batch: returns how many were published and whether the
    /// outbox is now drained.
    async fn publish_batch(&self) -> anyhow::Result<(usize, bool)> {
        let started = std::time::Instant::now();
        let txn = self.db.begin().await?;
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .order_by_asc(outbox::Column::Seq)
            .limit(self.batch);
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok((0, true));
        }
        let claimed = started.elapsed();
        let messages: Vec<Message> = rows
            .iter()
            .map(|row| Message {
                event_id: row.event_id.clone(),
                routing_key: row.event_type.clone(),
                body: row.envelope.clone(),
            })
            .collect();
        let spans = super::PublishSpans::open(
            rows.iter()
                .map(|r| (r.event_id.as_str(), r.event_type.as_str(), r.envelope.as_slice())),
            self.publisher.system(),
        );
        let (confirmed, failure) = self.publisher.publish_many(&messages).await;
        spans.close(confirmed);
        let published = started.elapsed();
        let sent: Vec<i64> = rows.iter().take(confirmed).map(|r| r.seq).collect();
        rows.iter()
            .take(confirmed)
            .for_each(|r| crate::metrics::event_published(&self.service, &r.event_type));
        if !sent.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(crate::time::now_micros()))
                .filter(outbox::Column::Seq.is_in(sent.clone()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        tracing::debug!(
            rows = rows.len(),
            confirmed,
            claim_ms = claimed.as_secs_f64() * 1e3,
            publish_ms = (published - claimed).as_secs_f64() * 1e3,
            mark_ms = (started.elapsed() - published).as_secs_f64() * 1e3,
            "outbox batch"
        );
        match failure {
            Some(e) => Err(anyhow::Error::new(e).context(format!("published {} of {} rows", sent.len(), rows.len()))),
            None => Ok((sent.len(), (rows.len() as u64) < self.batch)),
        }
    }

    /// Runs until `shutdown` resolves: publishes, idles briefly when a
    /// poll found the outbox empty (not after a busy round: under load the
    /// next batch is already waiting), and backs off (up to 5 s) while
    /// publishing fails.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        let mut sampled: Option<std::time::Instant> = None;
        loop {
            if sampled.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
                sampled = Some(std::time::Instant::now());
                self.sample_backlog().await;
            }
            let wait = match self.publish_pending().await {
                Ok(published) => {
                    backoff = Duration::from_millis(100);
                    if published > 0 { Duration::ZERO } else { self.idle }
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), retry_in = ?backoff, "outbox relay: publishing failed; rows kept");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    wait
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sets the outbox gauges: one aggregate query over the pending rows.
    async fn sample_backlog(&self) {
        match backlog(&self.db).await {
            Ok((rows, oldest)) => {
                let age = oldest.map_or(0, |at| crate::time::now_micros() - at);
                crate::metrics::outbox_sampled(&self.service, rows, Duration::from_micros(age.max(0).unsigned_abs()));
            }
            Err(e) => tracing::debug!(error = %e, "sampling the outbox backlog"),
        }
    }
}

/// How often the relay samples its backlog for the metrics.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// How many outbox rows of `db` wait to be published, and when the oldest
/// of them was written (µs since the epoch).
pub async fn backlog(db: &impl ConnectionTrait) -> Result<(u64, Option<i64>), sea_orm::DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let (rows, oldest): (i64, Option<i64>) = outbox::Entity::find()
        .select_only()
        .column_as(Expr::col(outbox::Column::Seq).count(), "rows")
        .column_as(Expr::col(outbox::Column::CreatedAt).min(), "oldest")
        .filter(outbox::Column::PublishedAt.is_null())
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    Ok((u64::try_from(rows).unwrap_or(0), oldest))
}

/// How many outbox rows of `db` wait to be published.
pub async fn pending(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    Ok(backlog(db).await?.0)
}
