//! The bus consumer: pipeline deal events fire the tenant's matching rules
//! (one task per rule and event), and deleted deals and contacts cancel
//! their open tasks.
//!
//! Exactly once: the kit inbox applies each event once per consumer, and a
//! unique index on (tenant, rule, trigger event) guards the task itself.

use anyhow::Context;
use crm_kit::{bus::Handler, tenant::Tenant, time};
use crm_proto::events::v1::{self as ev, EventEnvelope};
use prost::Name;
use sea_orm::DatabaseTransaction;

use crate::{
    domain::{
        conditions, edits,
        firing::{self, Trigger},
        rule::TriggerKind,
    },
    entity::{rule, task as task_row},
    events::{self, system_caller},
    store,
};

/// The consumer name: the inbox key and the queue name.
pub const CONSUMER: &str = "tasks";

/// The routing keys the consumer binds.
pub const BINDINGS: &[&str] = &[
    "pipeline.deal.*",
    "contacts.contact.deleted",
    crm_tenancy::settings::BINDING,
];

/// The actor of the tasks rules create.
const ACTOR: &str = "automation";

/// The bus handler of the tasks service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Automation;

#[tonic::async_trait]
impl Handler for Automation {
    async fn handle(&self, txn: &DatabaseTransaction, envelope: &EventEnvelope) -> anyhow::Result<()> {
        match envelope.r#type.as_str() {
            crm_tenancy::settings::TENANT_SETTINGS_UPDATED => crm_tenancy::settings::apply(txn, envelope).await,
            "pipeline.deal.created" => {
                let p: ev::DealCreated = decode(envelope)?;
                let stage = p.stage.unwrap_or_default();
                let deal = p.deal.unwrap_or_default();
                let stage_id = if stage.id.is_empty() {
                    deal.stage_id.clone()
                } else {
                    stage.id.clone()
                };
                let t = Trigger::new(envelope, deal, stage.name, None);
                fire(txn, &t, TriggerKind::DealCreated, None).await?;
                fire(txn, &t, TriggerKind::DealEnteredStage, Some(&stage_id)).await
            }
            "pipeline.deal.stage_changed" => {
                let p: ev::DealStageChanged = decode(envelope)?;
                let to = p.to_stage.unwrap_or_default();
                let t = Trigger::new(envelope, p.deal.unwrap_or_default(), to.name, p.amount);
                fire(txn, &t, TriggerKind::DealEnteredStage, Some(&to.id)).await
            }
            "pipeline.deal.won" => {
                let p: ev::DealWon = decode(envelope)?;
                let t = Trigger::new(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealWon, None).await
            }
            "pipeline.deal.lost" => {
                let p: ev::DealLost = decode(envelope)?;
                let t = Trigger::new(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealLost, None).await
            }
            "pipeline.deal.stalled" => {
                let p: ev::DealStalled = decode(envelope)?;
                let t = Trigger::new(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealStalled, None).await
            }
            "pipeline.deal.deleted" => {
                let p: ev::DealDeleted = decode(envelope)?;
                cancel_about(txn, envelope, task_row::Column::DealId, &p.deal_id, "deal deleted").await
            }
            "contacts.contact.deleted" => {
                let p: ev::ContactDeleted = decode(envelope)?;
                cancel_about(
                    txn,
                    envelope,
                    task_row::Column::ContactId,
                    &p.contact_id,
                    "contact deleted",
                )
                .await
            }
            _ => Ok(()),
        }
    }
}

fn decode<T: prost::Message + Name + Default>(envelope: &EventEnvelope) -> anyhow::Result<T> {
    envelope
        .payload
        .as_ref()
        .context("the event has no payload")?
        .to_msg::<T>()
        .with_context(|| format!("decoding the payload of {} as {}", envelope.r#type, T::full_name()))
}

/// Creates one task for each enabled rule of `kind` that matches the deal.
async fn fire(
    txn: &DatabaseTransaction,
    t: &Trigger<'_>,
    kind: TriggerKind,
    stage: Option<&str>,
) -> anyhow::Result<()> {
    let tenant = t.tenant();
    let rules = store::rules::matching(txn, &tenant, kind, &t.deal.pipeline_id, stage).await?;
    for r in &rules {
        if !conditions::holds(&conditions::from_db(&r.conditions), &t.deal) {
            continue;
        }
        if store::tasks::find_by_trigger(txn, &tenant, &r.id, &t.envelope.event_id)
            .await?
            .is_some()
        {
            continue;
        }
        create_task(txn, &tenant, t, r).await?;
    }
    Ok(())
}

async fn create_task(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    t: &Trigger<'_>,
    r: &rule::Model,
) -> anyhow::Result<()> {
    let assignee = firing::assignee_of(r);
    let turn = match assignee.takes_turns() {
        true => store::rules::take_turn(txn, tenant, &r.id).await?,
        false => 0,
    };
    let created = firing::task_for(r, t, assignee.pick(&t.deal.owner_id, turn), time::now_micros());
    store::tasks::insert(txn, &created).await?;
    let caller = system_caller(tenant, ACTOR);
    events::task_created(txn, &caller, &created, &t.envelope.event_id).await?;
    Ok(())
}

/// Cancels the open tasks of the envelope's tenant about a deleted deal or contact.
async fn cancel_about(
    txn: &DatabaseTransaction,
    envelope: &EventEnvelope,
    column: task_row::Column,
    id: &str,
    reason: &str,
) -> anyhow::Result<()> {
    if id.is_empty() {
        return Ok(());
    }
    let tenant = Tenant::of_event(envelope);
    let caller = system_caller(&tenant, ACTOR);
    for current in store::tasks::open_about(txn, &tenant, column, id).await? {
        let next = edits::cancel(&current, time::now_micros());
        store::tasks::save(txn, &tenant, &next, current.version, false)
            .await
            .with_context(|| format!("task {} changed while being cancelled", current.id))?;
        events::task_cancelled(txn, &caller, &next, reason).await?;
    }
    Ok(())
}
