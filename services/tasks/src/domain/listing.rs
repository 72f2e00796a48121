//! The filters of ListTasks, parsed.

use crm_kit::{ApiResult, time, validate::Violations};
use crm_proto::tasks::v1 as pb;

use super::TaskStatus;

/// The filters of ListTasks, all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Only this assignee.
    pub assignee_id: Option<String>,
    /// Only this status.
    pub status: Option<&'static str>,
    /// Only this deal.
    pub deal_id: Option<String>,
    /// Only this contact.
    pub contact_id: Option<String>,
    /// Due at or after (µs).
    pub due_after: Option<i64>,
    /// Due before (µs).
    pub due_before: Option<i64>,
    /// Only open tasks past due (at the time of the query).
    pub overdue_only: bool,
}

impl TaskFilter {
    /// A stable description of the filter, binding page tokens to it.
    pub fn fingerprint(&self) -> String {
        format!("tasks:{self:?}")
    }

    /// Parses the request's filter fields, naming every bad one.
    pub fn parse(req: &pb::ListTasksRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let status = match TaskStatus::from_proto(req.status) {
            Some(s) => s.map(TaskStatus::as_str),
            None => {
                v.add("status", "is not a TaskStatus value");
                None
            }
        };
        let mut due = |field: &str, ts: Option<&prost_types::Timestamp>| {
            let ts = ts?;
            let parsed = time::from_timestamp(ts);
            if parsed.is_none() {
                v.add(field, "must be a valid time between the years 1 and 9999");
            }
            parsed
        };
        let due_after = due("due_after", req.due_after.as_ref());
        let due_before = due("due_before", req.due_before.as_ref());
        let filter = Self {
            assignee_id: (!req.assignee_id.is_empty()).then(|| v.user_id("assignee_id", &req.assignee_id)),
            status,
            deal_id: v.optional_id("deal_id", &req.deal_id).map(|u| u.to_string()),
            contact_id: v.optional_id("contact_id", &req.contact_id).map(|u| u.to_string()),
            due_after,
            due_before,
            overdue_only: req.overdue_only,
        };
        v.finish()?;
        Ok(filter)
    }
}
