//! Task values: status, priority, and the settable fields of a create or
//! update request, parsed with every violation named.

use crm_kit::{time, validate::Violations};
use crm_proto::tasks::v1 as pb;

use super::durations;

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

impl TaskFields {
    /// Whether the fields set a deal or a contact (which their services
    /// are asked about).
    pub fn names_references(&self) -> bool {
        matches!(self.deal_id, Some(Some(_))) || matches!(self.contact_id, Some(Some(_)))
    }
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
