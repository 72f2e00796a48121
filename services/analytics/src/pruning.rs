//! The change log's pruner: a background job that, every [`PRUNE_EVERY`],
//! drops the changes older than [`KEEP_CHANGES`]. No read waits for it; a
//! read model older than half of that reloads whole instead of trusting the
//! log (see [`crate::cache`]). Every replica may run it: a second DELETE of
//! the same rows deletes nothing.

use std::{future::Future, time::Duration};

use crm_kit::time;
use sea_orm::DatabaseConnection;

use crate::store;

/// Microseconds in a minute.
const MINUTE: i64 = 60_000_000;
/// How long the change log keeps a change (µs): an hour.
pub const KEEP_CHANGES: i64 = 60 * MINUTE;
/// How often the pruner runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(5 * 60);

/// Prunes the change log of `db` every `every` until `shutdown` resolves.
pub async fn run(db: DatabaseConnection, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
        match store::prune_changes(&db, time::now_micros() - KEEP_CHANGES).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "change log pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning the change log failed; retrying next round"),
        }
    }
}
