//! What a rule does when a deal event matches it: the task it creates,
//! titled from its template, due `due_in` after the event, for the deal's
//! owner, one user or the next of a round robin.

use crm_kit::{tenant::Tenant, time, validate::new_id};
use crm_proto::{common::v1::Money, events::v1::EventEnvelope, pipeline::v1::Deal};

use super::{
    TaskStatus,
    rule::Assignee,
    template::{self, Values},
};
use crate::entity::{rule, task};

/// What a deal event tells a rule.
#[derive(Clone, Debug)]
pub struct Trigger<'a> {
    /// The event.
    pub envelope: &'a EventEnvelope,
    /// The deal as the event describes it.
    pub deal: Deal,
    /// The name of the stage the event is about.
    pub stage_name: String,
    /// The amount to render: the event's, else the deal's.
    pub amount: Option<Money>,
}

impl<'a> Trigger<'a> {
    /// The trigger of `envelope` about `deal` in stage `stage_name`.
    pub fn new(envelope: &'a EventEnvelope, deal: Deal, stage_name: String, amount: Option<Money>) -> Self {
        let amount = amount.or_else(|| deal.amount.clone());
        Self {
            envelope,
            deal,
            stage_name,
            amount,
        }
    }

    /// The tenant the event happened in.
    pub fn tenant(&self) -> Tenant {
        Tenant::of_event(self.envelope)
    }
}

/// Who rule `r` assigns its task to (a round robin needs the rule's next
/// `turn`: see [`Assignee::takes_turns`]).
pub fn assignee_of(r: &rule::Model) -> Assignee {
    Assignee::from_db(&r.assignee_kind, &r.assignee_users)
}

/// The open task rule `r` creates for `t`, assigned to `assignee`, at `now`.
pub fn task_for(r: &rule::Model, t: &Trigger<'_>, assignee: String, now: i64) -> task::Model {
    let values = Values {
        deal_title: t.deal.title.clone(),
        deal_amount: t.amount.as_ref().map(template::money).unwrap_or_default(),
        stage_name: t.stage_name.clone(),
        fields: t
            .deal
            .custom_fields
            .iter()
            .map(|(k, v)| (k.clone(), super::conditions::display(v)))
            .collect(),
    };
    let occurred = t
        .envelope
        .occurred_at
        .as_ref()
        .and_then(time::from_timestamp)
        .unwrap_or(now);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    task::Model {
        id: new_id().to_string(),
        tenant_id: t.envelope.tenant_id.clone(),
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
    }
}
