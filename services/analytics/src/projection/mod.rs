//! The bus consumer: pipeline and contacts events in, projection rows out.
//!
//! Order-tolerant and idempotent: the kit inbox applies each event once; a
//! pipeline or deal snapshot is applied only when its aggregate_version is
//! not older than the stored one; a transition is keyed by (tenant, deal,
//! aggregate_version) and unique per (deal, time, stage), so a duplicate, a
//! late move, or a move a rebuild already brought lands in its place once;
//! deletions leave a tombstone so late events about a deleted deal or
//! pipeline change nothing.
//!
//! [`decode`] turns each event into what it changes, [`deals`],
//! [`pipelines`] and [`activities`] write the rows (a batch of deal events
//! in a few statements), and [`change_log`] tells the read models which of
//! them went stale, in the same transaction.

mod activities;
pub mod change_log;
mod deals;
mod decode;
pub mod fields;
mod pipelines;

use crm_kit::{bus::Handler, tenant::Tenant};
use crm_proto::events::v1::{self as ev, EventEnvelope};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel};

pub use self::change_log::{Touched, log_changes};
use self::decode::{DEAL_CHANGES, deal_change, decode};

/// The consumer name: the inbox key and the queue name.
pub const CONSUMER: &str = "analytics";

/// The routing keys the consumer binds.
pub const BINDINGS: &[&str] = &[
    "pipeline.pipeline.*",
    "pipeline.deal.*",
    "pipeline.field.*",
    "contacts.activity.logged",
    crm_tenancy::settings::BINDING,
];

/// The bus handler that keeps the analytics projections.
#[derive(Clone, Copy, Debug, Default)]
pub struct Projector;

#[tonic::async_trait]
impl Handler for Projector {
    async fn handle(&self, txn: &DatabaseTransaction, e: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(change) = deal_change(e)? {
            return deals::put(txn, vec![change]).await;
        }
        let tenant = Tenant::of_event(e);
        let version = e.aggregate_version;
        let touched = match e.r#type.as_str() {
            "pipeline.pipeline.created" => {
                let p: ev::PipelineCreated = decode(e)?;
                pipelines::put(txn, e, p.pipeline.unwrap_or_default()).await?
            }
            "pipeline.pipeline.updated" => {
                let p: ev::PipelineUpdated = decode(e)?;
                pipelines::put(txn, e, p.pipeline.unwrap_or_default()).await?
            }
            "pipeline.pipeline.deleted" => {
                let p: ev::PipelineDeleted = decode(e)?;
                pipelines::delete(txn, &tenant, &p.pipeline_id, version).await?;
                Some(Touched::stages(p.pipeline_id))
            }
            "pipeline.deal.deleted" => {
                let p: ev::DealDeleted = decode(e)?;
                deals::delete(txn, e, &p).await?
            }
            t if t.starts_with("pipeline.field.") => {
                let touched = fields::apply(txn, e).await?;
                return log_changes(txn, &tenant, touched).await;
            }
            "contacts.activity.logged" => {
                let p: ev::ActivityLogged = decode(e)?;
                activities::put(txn, e, p).await?;
                None
            }
            crm_tenancy::settings::TENANT_SETTINGS_UPDATED => {
                crm_tenancy::settings::apply(txn, e).await?;
                None
            }
            // pipeline.deal.stalled and anything else: stalls are derived from stays.
            _ => None,
        };
        match touched {
            Some(t) => log_changes(txn, &tenant, vec![t]).await,
            None => Ok(()),
        }
    }

    /// A batch of deal snapshots costs four statements, not four per event;
    /// anything else in the batch and the events go one by one.
    async fn handle_batch(&self, txn: &DatabaseTransaction, events: &[&EventEnvelope]) -> anyhow::Result<()> {
        if !events.iter().all(|e| DEAL_CHANGES.contains(&e.r#type.as_str())) {
            for e in events {
                self.handle(txn, e).await?;
            }
            return Ok(());
        }
        let mut changes = Vec::with_capacity(events.len());
        for e in events {
            changes.extend(deal_change(e)?);
        }
        deals::put(txn, changes).await
    }
}

/// Inserts or updates all columns of `row`.
async fn save<A>(txn: &DatabaseTransaction, exists: bool, row: A) -> anyhow::Result<()>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let row = row.reset_all();
    if exists {
        row.update(txn).await?;
    } else {
        row.insert(txn).await?;
    }
    Ok(())
}
