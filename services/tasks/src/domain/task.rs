//! Task values: status, priority, and the settable fields of a create or
//! update request, parsed with every violation named.

use crm_kit::{
    ApiError, ApiResult,
    etag::Target,
    handler::mask_paths,
    tenant::Tenant,
    time,
    validate::{Violations, new_id},
};
use crm_proto::tasks::v1 as pb;

use super::durations;
use crate::entity::task;

/// The fields a create sets and an update mask may name.
pub const SETTABLE: [&str; 8] = [
    "title",
    "notes",
    "due_time",
    "assignee_id",
    "priority",
    "deal_id",
    "contact_id",
    "remind_before",
];

/// The state of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// To do.
    Open,
    /// Done.
    Done,
    /// No longer needed.
    Cancelled,
}

impl TaskStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// From the stored form; anything unknown reads as cancelled.
    pub fn from_db(s: &str) -> Self {
        match s {
            "open" => Self::Open,
            "done" => Self::Done,
            _ => Self::Cancelled,
        }
    }

    /// The wire form.
    pub fn to_proto(self) -> pb::TaskStatus {
        match self {
            Self::Open => pb::TaskStatus::Open,
            Self::Done => pb::TaskStatus::Done,
            Self::Cancelled => pb::TaskStatus::Cancelled,
        }
    }

    /// A wire filter: `Some(None)` for UNSPECIFIED ("any"), `None` for a
    /// value the enum does not have.
    pub fn from_proto(value: i32) -> Option<Option<Self>> {
        match pb::TaskStatus::try_from(value).ok()? {
            pb::TaskStatus::Unspecified => Some(None),
            pb::TaskStatus::Open => Some(Some(Self::Open)),
            pb::TaskStatus::Done => Some(Some(Self::Done)),
            pb::TaskStatus::Cancelled => Some(Some(Self::Cancelled)),
        }
    }
}

/// Task priorities, stored as their wire value; UNSPECIFIED reads as NORMAL.
pub struct Priority;

impl Priority {
    /// The stored value of a wire priority, recording a violation for an
    /// unknown value.
    pub fn parse(v: &mut Violations, field: &str, value: i32) -> i32 {
        match pb::TaskPriority::try_from(value) {
            Ok(pb::TaskPriority::Unspecified) => pb::TaskPriority::Normal as i32,
            Ok(p) => p as i32,
            Err(_) => {
                v.add(field, "is not a TaskPriority value");
                pb::TaskPriority::Normal as i32
            }
        }
    }
}

/// The parsed fields of a request: `None` when the field is not being set;
/// for the optional references, `Some(None)` clears.
#[derive(Clone, Debug, Default)]
pub struct TaskFields {
    /// The title.
    pub title: Option<String>,
    /// The notes.
    pub notes: Option<String>,
    /// The due time (µs).
    pub due_at: Option<i64>,
    /// The assignee.
    pub assignee_id: Option<String>,
    /// The priority.
    pub priority: Option<i32>,
    /// The deal.
    pub deal_id: Option<Option<String>>,
    /// The contact.
    pub contact_id: Option<Option<String>>,
    /// The reminders (µs before due).
    pub remind_before: Option<Vec<i64>>,
}

impl TaskFields {
    /// Parses the fields named in `paths` from `t`; an unknown path is a
    /// violation of `update_mask`. On create, pass [`SETTABLE`]: an empty
    /// assignee is then left for the caller to default.
    pub fn parse(v: &mut Violations, t: &pb::Task, paths: &[&str], create: bool) -> Self {
        let mut f = Self::default();
        for path in paths {
            match *path {
                "title" => f.title = Some(v.required_text("task.title", &t.title, 200)),
                "notes" => f.notes = Some(v.optional_text("task.notes", &t.notes, 10_000)),
                "due_time" => f.due_at = parse_due(v, t.due_time.as_ref()),
                "assignee_id" if create && t.assignee_id.is_empty() => {}
                "assignee_id" => f.assignee_id = Some(v.user_id("task.assignee_id", &t.assignee_id)),
                "priority" => f.priority = Some(Priority::parse(v, "task.priority", t.priority)),
                "deal_id" => f.deal_id = Some(v.optional_id("task.deal_id", &t.deal_id).map(|u| u.to_string())),
                "contact_id" => {
                    f.contact_id = Some(v.optional_id("task.contact_id", &t.contact_id).map(|u| u.to_string()))
                }
                "remind_before" => {
                    f.remind_before = Some(durations::parse_reminders(v, "task.remind_before", &t.remind_before))
                }
                other => v.add("update_mask", format!("{other:?} is not a field that can be changed")),
            }
        }
        f
    }
}

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
    fn apply_to(&self, t: &mut task::Model) {
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

fn parse_due(v: &mut Violations, due: Option<&prost_types::Timestamp>) -> Option<i64> {
    match due {
        None => {
            v.add("task.due_time", "is required");
            None
        }
        Some(ts) => {
            let parsed = time::from_timestamp(ts);
            if parsed.is_none() {
                v.add("task.due_time", "must be a valid time between the years 1 and 9999");
            }
            parsed
        }
    }
}

#[cfg(test)]
mod tests {
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
    fn a_create_without_title_or_due_time_names_both() {
        let mut v = Violations::new();
        TaskFields::parse(&mut v, &pb::Task::default(), &SETTABLE, true);
        let Err(crm_kit::ApiError::InvalidArgument(found)) = v.finish() else {
            panic!("expected violations")
        };
        let fields: Vec<_> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["task.title", "task.due_time"]);
    }

    #[test]
    fn an_unknown_priority_is_rejected() {
        let mut v = Violations::new();
        Priority::parse(&mut v, "task.priority", 42);
        assert!(!v.is_empty());
    }
}
