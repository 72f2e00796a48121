//! The stall scanner: announces each open deal that has sat in its stage
//! longer than the stage's `rotting_days` with a `pipeline.deal.stalled`
//! event, once per stay.
//!
//! It scans every tenant (it is a system job, not a caller). The
//! `deal_stalls` row and the event commit together, and the row's key
//! (deal, stage entry) makes a second announcement of the same stay
//! impossible, also with several replicas scanning at once.

use std::{future::Future, time::Duration};

use crm_kit::{auth::Caller, tenant::Tenant, time};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::OnConflict,
};

use crate::{
    domain::StageKind,
    entity::{deal, stage, stall},
    events,
};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Finds and announces stalled deals.
#[derive(Clone, Debug)]
pub struct Scanner {
    db: DatabaseConnection,
    every: Duration,
}

impl Scanner {
    /// A scanner of `db` that runs every `every`.
    pub fn new(db: DatabaseConnection, every: Duration) -> Self {
        Self { db, every }
    }

    /// One pass: announces every stay that stalled and was not announced;
    /// returns how many it announced.
    pub async fn scan_once(&self) -> anyhow::Result<usize> {
        let now = time::now_micros();
        // Every tenant's stages: a system job, not a caller.
        let rotting = stage::Entity::find()
            .filter(stage::Column::RottingDays.gt(0))
            .filter(stage::Column::Kind.eq(StageKind::Open.as_str()))
            .all(&self.db)
            .await?;
        let mut announced = 0;
        for s in &rotting {
            let deadline = now - i64::from(s.rotting_days) * DAY_MICROS;
            let stalled = Tenant::of_row(&s.tenant_id)
                .find::<deal::Entity>()
                .filter(deal::Column::StageId.eq(&s.id))
                .filter(deal::Column::StageEnteredAt.lte(deadline))
                .all(&self.db)
                .await?;
            for d in &stalled {
                announced += usize::from(self.announce(s, d, now).await?);
            }
        }
        Ok(announced)
    }

    /// Records and announces one stalled stay unless it was announced before.
    async fn announce(&self, s: &stage::Model, d: &deal::Model, now: i64) -> anyhow::Result<bool> {
        let txn = self.db.begin().await?;
        let inserted = stall::Entity::insert(stall::ActiveModel {
            deal_id: Set(d.id.clone()),
            stage_entered_at: Set(d.stage_entered_at),
            tenant_id: Set(d.tenant_id.clone()),
            stage_id: Set(s.id.clone()),
            stalled_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([stall::Column::DealId, stall::Column::StageEnteredAt])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let system = Caller {
            user_id: "system".into(),
            tenant_id: d.tenant_id.clone(),
            roles: vec![],
            token: String::new(),
        };
        let tenant = crm_kit::tenant::Tenant::of_row(&d.tenant_id);
        let defs = crate::store::fields(&txn, &tenant).await?;
        events::deal_stalled(&txn, &system, (d, s), &defs).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Scans every `every` until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.scan_once().await {
                tracing::warn!(error = format!("{e:#}"), "stall scan failed; retrying next round");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }
}
