//! The background job that purges a deleted field's values from every
//! record, a batch at a time, then marks the definition purged. Purging
//! does not change the records' versions or announce them: consumers drop
//! their copies on the field's `deleted` event.

use std::time::Duration;

use crm_kit::{ApiError, tenant::Tenant, time};
use sea_orm::DatabaseConnection;

use crate::{owner::Owner, store};

/// How often the services purge deleted fields' values.
pub const EVERY: Duration = Duration::from_secs(5);

/// How many records one statement rewrites.
pub const BATCH: u64 = 1_000;

/// Purges deleted fields' values every `every`.
#[derive(Clone, Debug)]
pub struct Purger {
    db: DatabaseConnection,
    owner: Owner,
    every: Duration,
}

impl Purger {
    /// A purger of `owner`'s record tables on `db`.
    pub fn new(db: DatabaseConnection, owner: Owner, every: Duration) -> Self {
        Self { db, owner, every }
    }

    /// Purges what is due now; returns how many record values it removed.
    pub async fn purge_once(&self) -> Result<u64, ApiError> {
        let mut removed = 0;
        for (rt, table) in self.owner.records {
            for d in store::unpurged(&self.db, *rt, 100).await? {
                let tenant = Tenant::of_row(&d.tenant_id);
                loop {
                    let n = store::purge_batch(&self.db, table, &tenant, &d.key, BATCH).await?;
                    removed += n;
                    if n < BATCH {
                        break;
                    }
                }
                store::mark_purged(&self.db, &d, time::now_micros()).await?;
                tracing::info!(tenant = %d.tenant_id, key = %d.key, table, "purged a deleted field's values");
            }
        }
        Ok(removed)
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.purge_once().await {
                tracing::warn!(error = %e, "field purge failed; retrying next round");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }
}
