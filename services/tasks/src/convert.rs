//! Stored records as wire messages, for replies and event payloads alike
//! (the handlers, the automation and the reminder scheduler use these).

use crm_kit::{etag, time};
use crm_proto::tasks::v1::{self as pb, action, create_task_action, trigger};

use crate::{
    domain::{
        TaskStatus, durations,
        rule::{Assignee, TriggerKind},
    },
    entity::{rule, task},
};

/// A task row on the wire.
pub fn task(t: &task::Model) -> pb::Task {
    pb::Task {
        id: t.id.clone(),
        title: t.title.clone(),
        notes: t.notes.clone(),
        due_time: Some(time::to_timestamp(t.due_at)),
        assignee_id: t.assignee_id.clone(),
        priority: t.priority,
        status: TaskStatus::from_db(&t.status).to_proto() as i32,
        deal_id: t.deal_id.clone().unwrap_or_default(),
        contact_id: t.contact_id.clone().unwrap_or_default(),
        rule_id: t.rule_id.clone().unwrap_or_default(),
        remind_before: durations::from_json(&t.remind_before)
            .into_iter()
            .map(time::to_duration)
            .collect(),
        etag: etag::format(t.version),
        create_time: Some(time::to_timestamp(t.created_at)),
        update_time: Some(time::to_timestamp(t.updated_at)),
        complete_time: t.completed_at.map(time::to_timestamp),
    }
}

/// A rule row on the wire.
pub fn rule(r: &rule::Model) -> pb::Rule {
    let pipeline_id = r.pipeline_id.clone();
    let kind = match TriggerKind::from_db(&r.trigger_kind) {
        Some(TriggerKind::DealEnteredStage) | None => trigger::Kind::DealEnteredStage(pb::DealEnteredStage {
            pipeline_id,
            stage_id: r.stage_id.clone().unwrap_or_default(),
        }),
        Some(TriggerKind::DealCreated) => trigger::Kind::DealCreated(pb::DealCreated { pipeline_id }),
        Some(TriggerKind::DealWon) => trigger::Kind::DealWon(pb::DealWon { pipeline_id }),
        Some(TriggerKind::DealLost) => trigger::Kind::DealLost(pb::DealLost { pipeline_id }),
        Some(TriggerKind::DealStalled) => trigger::Kind::DealStalled(pb::DealStalled { pipeline_id }),
    };
    let assignee = match Assignee::from_db(&r.assignee_kind, &r.assignee_users) {
        Assignee::DealOwner => create_task_action::Assignee::DealOwner(true),
        Assignee::User(u) => create_task_action::Assignee::UserId(u),
        Assignee::RoundRobin(user_ids) => create_task_action::Assignee::RoundRobin(pb::RoundRobin { user_ids }),
    };
    let action = pb::CreateTaskAction {
        title_template: r.title_template.clone(),
        due_in: Some(time::to_duration(r.due_in)),
        assignee: Some(assignee),
        priority: r.priority,
        remind_before: durations::from_json(&r.remind_before)
            .into_iter()
            .map(time::to_duration)
            .collect(),
    };
    pb::Rule {
        conditions: crate::domain::conditions::from_db(&r.conditions),
        id: r.id.clone(),
        name: r.name.clone(),
        enabled: r.enabled,
        trigger: Some(pb::Trigger { kind: Some(kind) }),
        action: Some(pb::Action {
            kind: Some(action::Kind::CreateTask(action)),
        }),
        etag: etag::format(r.version),
        create_time: Some(time::to_timestamp(r.created_at)),
        update_time: Some(time::to_timestamp(r.updated_at)),
    }
}
