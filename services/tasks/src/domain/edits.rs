//! Creating and changing tasks and rules: the requests parsed into valid
//! values, and what each change makes of the stored record (a task's life:
//! open, then done or cancelled; a new due time asks for a new overdue
//! notice).

use crm_kit::{
    ApiError, ApiResult,
    etag::Target,
    handler::mask_paths,
    tenant::Tenant,
    validate::{Violations, new_id},
};
use crm_proto::tasks::v1 as pb;

use super::{
    TaskStatus, conditions, durations,
    rule::{ActionSpec, TriggerSpec},
    task::{SETTABLE, TaskFields},
    template,
};
use crate::entity::{rule, task};

/// A valid CreateTask request.
#[derive(Clone, Debug)]
pub struct NewTask(TaskFields);

impl NewTask {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::CreateTaskRequest) -> ApiResult<Self> {
        let input = req.task.clone().unwrap_or_default();
        let mut v = Violations::new();
        let f = TaskFields::parse(&mut v, &input, &SETTABLE, true);
        v.finish()?;
        Ok(Self(f))
    }

    /// The fields the request sets.
    pub fn fields(&self) -> &TaskFields {
        &self.0
    }

    /// The new open task of `tenant` by `user` (its assignee unless the
    /// request names one), at version 1.
    pub fn create(&self, tenant: &Tenant, user: &str, now: i64) -> task::Model {
        let f = &self.0;
        let mut created = task::Model {
            id: new_id().to_string(),
            tenant_id: tenant.id(),
            title: String::new(),
            notes: String::new(),
            due_at: now,
            assignee_id: user.to_owned(),
            priority: pb::TaskPriority::Normal as i32,
            status: TaskStatus::Open.as_str().to_owned(),
            deal_id: None,
            contact_id: None,
            rule_id: None,
            trigger_event_id: None,
            remind_before: durations::to_json(&[]),
            overdue_notified: false,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        };
        f.apply_to(&mut created);
        created
    }
}

/// A valid UpdateTask request: the fields its mask names.
#[derive(Clone, Debug)]
pub struct TaskUpdate {
    /// The task and the etag the caller read.
    pub target: Target,
    /// The new values of the fields in the mask.
    pub fields: TaskFields,
    /// The mask's paths, as the update event names them.
    pub paths: Vec<String>,
}

impl TaskUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdateTaskRequest) -> ApiResult<Self> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.task.clone().unwrap_or_default();
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "task.id", &input.id, "task.etag", &input.etag);
        let fields = TaskFields::parse(&mut v, &input, &paths, false);
        let target = v.finish_with(target)?;
        Ok(Self {
            target,
            fields,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    /// Whether the update moves the task's reminders (its due time or its
    /// offsets change).
    pub fn reschedules(&self) -> bool {
        self.fields.due_at.is_some() || self.fields.remind_before.is_some()
    }

    /// `current` with the update applied, as the next version at `now`. A
    /// new due time deserves its own overdue notice.
    pub fn apply(&self, current: &task::Model, now: i64) -> task::Model {
        let mut next = current.clone();
        self.fields.apply_to(&mut next);
        next.overdue_notified &= next.due_at == current.due_at;
        next.version += 1;
        next.updated_at = now;
        next
    }
}

impl TaskFields {
    /// Sets the given fields on `t`.
    pub(super) fn apply_to(&self, t: &mut task::Model) {
        let f = self.clone();
        if let Some(title) = f.title {
            t.title = title;
        }
        if let Some(notes) = f.notes {
            t.notes = notes;
        }
        if let Some(due) = f.due_at {
            t.due_at = due;
        }
        if let Some(a) = f.assignee_id {
            t.assignee_id = a;
        }
        if let Some(p) = f.priority {
            t.priority = p;
        }
        if let Some(d) = f.deal_id {
            t.deal_id = d;
        }
        if let Some(c) = f.contact_id {
            t.contact_id = c;
        }
        if let Some(r) = &f.remind_before {
            t.remind_before = durations::to_json(r);
        }
    }
}

/// `current` done at `now`; only an OPEN task can be completed.
pub fn complete(current: &task::Model, now: i64) -> ApiResult<task::Model> {
    let status = TaskStatus::from_db(&current.status);
    if status != TaskStatus::Open {
        let id = &current.id;
        return Err(ApiError::precondition(
            "TASK_NOT_OPEN",
            format!("task/{id}"),
            format!("task {id} is {}; only an OPEN task can be completed", status.as_str()),
        ));
    }
    let mut next = current.clone();
    next.status = TaskStatus::Done.as_str().to_owned();
    next.completed_at = Some(now);
    next.updated_at = now;
    next.version += 1;
    Ok(next)
}

/// `current` cancelled at `now` (its deal or contact is gone).
pub fn cancel(current: &task::Model, now: i64) -> task::Model {
    let mut next = current.clone();
    next.status = TaskStatus::Cancelled.as_str().to_owned();
    next.updated_at = now;
    next.version += 1;
    next
}

/// The reminder offsets of `t` (µs before its due time).
pub fn reminder_offsets(t: &task::Model) -> Vec<i64> {
    durations::from_json(&t.remind_before)
}

/// The parsed fields of a rule request; `None` when not being set.
#[derive(Clone, Debug, Default)]
pub struct RuleFields {
    /// The name.
    pub name: Option<String>,
    /// Whether it fires.
    pub enabled: Option<bool>,
    /// What makes it fire.
    pub trigger: Option<TriggerSpec>,
    /// What it does.
    pub action: Option<ActionSpec>,
    /// When it may fire.
    pub conditions: Option<Vec<crm_proto::tasks::v1::RuleCondition>>,
}

/// Every field of a rule, as a create sets them.
const ALL: [&str; 5] = ["name", "enabled", "trigger", "action", "conditions"];

impl RuleFields {
    /// The custom deal-field keys the change's conditions and title
    /// template name, with the field that names each; to check against
    /// PipelineService.
    pub fn field_keys(&self) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for (i, key) in self
            .conditions
            .as_deref()
            .map(conditions::custom_keys)
            .unwrap_or_default()
        {
            keys.push((format!("rule.conditions[{i}].field"), key));
        }
        if let Some(a) = &self.action {
            for key in template::field_keys(&a.title_template) {
                keys.push(("rule.action.create_task.title_template".into(), key));
            }
        }
        keys
    }
}

impl RuleFields {
    fn parse(v: &mut Violations, r: &pb::Rule, paths: &[&str]) -> Self {
        let mut f = Self::default();
        for path in paths {
            match *path {
                "name" => f.name = Some(v.required_text("rule.name", &r.name, 100)),
                "enabled" => f.enabled = Some(r.enabled),
                "trigger" => f.trigger = TriggerSpec::parse(v, r.trigger.as_ref()),
                "action" => f.action = ActionSpec::parse(v, r.action.as_ref()),
                "conditions" => f.conditions = Some(conditions::parse(v, &r.conditions)),
                other => v.add("update_mask", format!("{other:?} is not a field that can be changed")),
            }
        }
        f
    }

    /// Sets the given fields on `row`.
    fn apply_to(&self, row: &mut rule::Model) {
        if let Some(name) = &self.name {
            row.name.clone_from(name);
        }
        if let Some(enabled) = self.enabled {
            row.enabled = enabled;
        }
        if let Some(t) = &self.trigger {
            row.trigger_kind = t.kind.as_str().to_owned();
            row.pipeline_id.clone_from(&t.pipeline_id);
            row.stage_id.clone_from(&t.stage_id);
        }
        if let Some(a) = &self.action {
            row.title_template.clone_from(&a.title_template);
            row.due_in = a.due_in;
            row.assignee_kind = a.assignee.kind().to_owned();
            row.assignee_users = serde_json::to_string(&a.assignee.users()).unwrap_or_else(|_| "[]".to_owned());
            row.priority = a.priority;
            row.remind_before = durations::to_json(&a.remind_before);
        }
        if let Some(c) = &self.conditions {
            row.conditions = conditions::to_db(c);
        }
    }
}

/// A valid CreateRule request: every field set.
#[derive(Clone, Debug)]
pub struct NewRule {
    /// Every field of the rule.
    pub fields: RuleFields,
    /// What makes it fire (to check against the pipeline service).
    pub trigger: TriggerSpec,
}

impl NewRule {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::CreateRuleRequest) -> ApiResult<Self> {
        let input = req.rule.clone().unwrap_or_default();
        let mut v = Violations::new();
        let fields = RuleFields::parse(&mut v, &input, &ALL);
        let trigger = fields.trigger.clone().filter(|_| fields.action.is_some());
        let trigger = v.finish_with(trigger)?;
        Ok(Self { fields, trigger })
    }

    /// The new rule of `tenant` at version 1.
    pub fn create(&self, tenant: &Tenant, now: i64) -> rule::Model {
        let mut created = rule::Model {
            id: new_id().to_string(),
            tenant_id: tenant.id(),
            name: String::new(),
            enabled: false,
            trigger_kind: String::new(),
            pipeline_id: String::new(),
            stage_id: None,
            title_template: String::new(),
            due_in: 0,
            assignee_kind: String::new(),
            assignee_users: String::new(),
            rr_cursor: 0,
            priority: 0,
            remind_before: String::new(),
            conditions: "[]".to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.fields.apply_to(&mut created);
        created
    }
}

/// A valid UpdateRule request: the fields its mask names.
#[derive(Clone, Debug)]
pub struct RuleUpdate {
    /// The rule and the etag the caller read.
    pub target: Target,
    /// The new values of the fields in the mask.
    pub fields: RuleFields,
}

impl RuleUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdateRuleRequest) -> ApiResult<Self> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.rule.clone().unwrap_or_default();
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "rule.id", &input.id, "rule.etag", &input.etag);
        let fields = RuleFields::parse(&mut v, &input, &paths);
        let target = v.finish_with(target)?;
        Ok(Self { target, fields })
    }

    /// `current` with the update applied, as the next version at `now`.
    pub fn apply(&self, current: &rule::Model, now: i64) -> rule::Model {
        let mut next = current.clone();
        self.fields.apply_to(&mut next);
        next.version += 1;
        next.updated_at = now;
        next
    }
}

#[cfg(test)]
mod tests {
    use crm_kit::time;

    use super::*;

    fn open_task() -> task::Model {
        let req = pb::CreateTaskRequest {
            task: Some(pb::Task {
                title: "Call back".into(),
                due_time: Some(time::to_timestamp(1_000)),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        NewTask::parse(&req).unwrap().create(&Tenant::of_row("acme"), "ann", 10)
    }

    #[test]
    fn a_new_task_is_open_assigned_to_its_creator_and_due_when_asked() {
        let t = open_task();
        assert_eq!(
            (t.status.as_str(), t.assignee_id.as_str(), t.due_at),
            ("open", "ann", 1_000)
        );
        assert_eq!(t.priority, pb::TaskPriority::Normal as i32);
    }

    #[test]
    fn completing_a_done_task_is_a_failed_precondition() {
        let done = complete(&open_task(), 20).unwrap();
        assert_eq!(
            (done.status.as_str(), done.completed_at, done.version),
            ("done", Some(20), 2)
        );
        assert_eq!(complete(&done, 30).unwrap_err().code(), tonic::Code::FailedPrecondition);
    }

    #[test]
    fn a_new_due_time_asks_for_a_new_overdue_notice() {
        let mut current = open_task();
        current.overdue_notified = true;
        let req = pb::UpdateTaskRequest {
            task: Some(pb::Task {
                id: current.id.clone(),
                due_time: Some(time::to_timestamp(5_000)),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["due_time".into()],
            }),
        };
        let update = TaskUpdate::parse(&req).unwrap();
        assert!(update.reschedules());
        let next = update.apply(&current, 40);
        assert_eq!((next.due_at, next.overdue_notified, next.version), (5_000, false, 2));
    }

    #[test]
    fn a_rule_without_trigger_or_action_names_both() {
        let Err(crm_kit::ApiError::InvalidArgument(v)) = NewRule::parse(&pb::CreateRuleRequest::default()) else {
            panic!("expected violations")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["rule.name", "rule.trigger", "rule.action"]);
    }
}
