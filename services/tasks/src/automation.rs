//! The bus consumer: pipeline deal events fire the tenant's matching rules
//! (one task per rule and event), and deleted deals and contacts cancel
//! their open tasks.
//!
//! Exactly once: the kit inbox applies each event once per consumer, and a
//! unique index on (tenant, rule, trigger event) guards the task itself.

use anyhow::Context;
use crm_kit::{auth::Caller, bus::Handler, time, validate::new_id};
use crm_proto::{
    common::v1::Money,
    events::v1::{self as ev, EventEnvelope},
    pipeline::v1::Deal,
    tasks::v1 as pb,
};
use prost::Name;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::{
    domain::{
        TaskStatus, durations,
        rule::{Assignee, TriggerKind},
        template::{self, Values},
    },
    entity::{rule, task},
    events::{self, system_caller, types},
    grpc::task_to_proto,
    store,
};

/// The consumer name: the inbox key and the queue name.
pub const CONSUMER: &str = "tasks";

/// The routing keys the consumer binds.
pub const BINDINGS: &[&str] = &[
    "pipeline.deal.*",
    "contacts.contact.deleted",
    crm_kit::settings::BINDING,
];

/// The actor of the tasks rules create.
const ACTOR: &str = "automation";

/// The bus handler of the tasks service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Automation;

/// What a deal event tells a rule.
struct Trigger<'a> {
    envelope: &'a EventEnvelope,
    deal: Deal,
    stage_name: String,
    amount: Option<Money>,
}

#[tonic::async_trait]
impl Handler for Automation {
    async fn handle(&self, txn: &DatabaseTransaction, envelope: &EventEnvelope) -> anyhow::Result<()> {
        match envelope.r#type.as_str() {
            crm_kit::settings::TENANT_SETTINGS_UPDATED => crm_kit::settings::apply(txn, envelope).await,
            "pipeline.deal.created" => {
                let p: ev::DealCreated = decode(envelope)?;
                let stage = p.stage.unwrap_or_default();
                let deal = p.deal.unwrap_or_default();
                let stage_id = if stage.id.is_empty() {
                    deal.stage_id.clone()
                } else {
                    stage.id.clone()
                };
                let t = trigger(envelope, deal, stage.name, None);
                fire(txn, &t, TriggerKind::DealCreated, None).await?;
                fire(txn, &t, TriggerKind::DealEnteredStage, Some(&stage_id)).await
            }
            "pipeline.deal.stage_changed" => {
                let p: ev::DealStageChanged = decode(envelope)?;
                let to = p.to_stage.unwrap_or_default();
                let t = trigger(envelope, p.deal.unwrap_or_default(), to.name, p.amount);
                fire(txn, &t, TriggerKind::DealEnteredStage, Some(&to.id)).await
            }
            "pipeline.deal.won" => {
                let p: ev::DealWon = decode(envelope)?;
                let t = trigger(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealWon, None).await
            }
            "pipeline.deal.lost" => {
                let p: ev::DealLost = decode(envelope)?;
                let t = trigger(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealLost, None).await
            }
            "pipeline.deal.stalled" => {
                let p: ev::DealStalled = decode(envelope)?;
                let t = trigger(
                    envelope,
                    p.deal.unwrap_or_default(),
                    p.stage.unwrap_or_default().name,
                    None,
                );
                fire(txn, &t, TriggerKind::DealStalled, None).await
            }
            "pipeline.deal.deleted" => {
                let p: ev::DealDeleted = decode(envelope)?;
                cancel_about(txn, envelope, task::Column::DealId, &p.deal_id, "deal deleted").await
            }
            "contacts.contact.deleted" => {
                let p: ev::ContactDeleted = decode(envelope)?;
                cancel_about(txn, envelope, task::Column::ContactId, &p.contact_id, "contact deleted").await
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

fn trigger(envelope: &EventEnvelope, deal: Deal, stage_name: String, amount: Option<Money>) -> Trigger<'_> {
    let amount = amount.or_else(|| deal.amount.clone());
    Trigger {
        envelope,
        deal,
        stage_name,
        amount,
    }
}

/// Creates one task for each enabled rule of `kind` that matches the deal.
async fn fire(
    txn: &DatabaseTransaction,
    t: &Trigger<'_>,
    kind: TriggerKind,
    stage: Option<&str>,
) -> anyhow::Result<()> {
    let tenant = t.envelope.tenant_id.as_str();
    let rules = store::rules::matching(txn, tenant, kind, &t.deal.pipeline_id, stage).await?;
    for r in &rules {
        if store::tasks::find_by_trigger(txn, tenant, &r.id, &t.envelope.event_id)
            .await?
            .is_some()
        {
            continue;
        }
        create_task(txn, t, r).await?;
    }
    Ok(())
}

async fn create_task(txn: &DatabaseTransaction, t: &Trigger<'_>, r: &rule::Model) -> anyhow::Result<()> {
    let tenant = t.envelope.tenant_id.as_str();
    let assignee = match Assignee::from_db(&r.assignee_kind, &r.assignee_users) {
        Assignee::DealOwner => t.deal.owner_id.clone(),
        Assignee::User(u) => u,
        Assignee::RoundRobin(users) if users.is_empty() => t.deal.owner_id.clone(),
        Assignee::RoundRobin(users) => {
            let turn = store::rules::take_turn(txn, tenant, &r.id).await?;
            users[turn.rem_euclid(users.len() as i64) as usize].clone()
        }
    };
    let values = Values {
        deal_title: t.deal.title.clone(),
        deal_amount: t.amount.as_ref().map(template::money).unwrap_or_default(),
        stage_name: t.stage_name.clone(),
    };
    let occurred = t
        .envelope
        .occurred_at
        .as_ref()
        .and_then(time::from_timestamp)
        .unwrap_or_else(time::now_micros);
    let now = time::now_micros();
    let remind_before = durations::from_json(&r.remind_before);
    let created = task::Model {
        id: new_id().to_string(),
        tenant_id: tenant.to_owned(),
        title: template::render(&r.title_template, &values),
        notes: String::new(),
        due_at: occurred.saturating_add(r.due_in),
        assignee_id: assignee,
        priority: r.priority,
        status: TaskStatus::Open.as_str().to_owned(),
        deal_id: non_empty(&t.deal.id),
        contact_id: non_empty(&t.deal.contact_id),
        rule_id: Some(r.id.clone()),
        trigger_event_id: Some(t.envelope.event_id.clone()),
        remind_before: r.remind_before.clone(),
        overdue_notified: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
        version: 1,
    };
    store::tasks::insert(txn, &created).await?;
    store::reminders::replace(txn, &created, &remind_before).await?;
    let payload = ev::TaskCreated {
        task: Some(task_to_proto(&created)),
        trigger_event_id: t.envelope.event_id.clone(),
    };
    let caller = system_caller(tenant, ACTOR);
    events::append(txn, &caller, types::TASK_CREATED, &created.id, 1, &payload).await?;
    Ok(())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Cancels the open tasks of the envelope's tenant about a deleted deal or contact.
async fn cancel_about(
    txn: &DatabaseTransaction,
    envelope: &EventEnvelope,
    column: task::Column,
    id: &str,
    reason: &str,
) -> anyhow::Result<()> {
    if id.is_empty() {
        return Ok(());
    }
    let tenant = envelope.tenant_id.as_str();
    let caller = system_caller(tenant, ACTOR);
    for current in store::tasks::open_about(txn, tenant, column, id).await? {
        cancel(txn, &caller, current, reason).await?;
    }
    Ok(())
}

async fn cancel(txn: &impl ConnectionTrait, caller: &Caller, current: task::Model, reason: &str) -> anyhow::Result<()> {
    let mut next = current.clone();
    next.status = TaskStatus::Cancelled.as_str().to_owned();
    next.updated_at = time::now_micros();
    next.version += 1;
    if !store::tasks::update_guarded(txn, &next, current.version).await? {
        anyhow::bail!("task {} changed while being cancelled", current.id);
    }
    let task: pb::Task = task_to_proto(&next);
    let payload = ev::TaskCancelled {
        task: Some(task),
        reason: reason.to_owned(),
    };
    events::append(txn, caller, types::TASK_CANCELLED, &next.id, next.version, &payload).await?;
    Ok(())
}
