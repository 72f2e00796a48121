//! Task RPCs: create (idempotent), get, update, complete, delete, list.

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    settings, time,
    validate::{Violations, new_id, parse_id, parse_target},
};
use crm_proto::{events::v1 as ev, tasks::v1 as pb};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Tasks, convert, mask_paths};
use crate::{
    domain::{
        TaskStatus, durations,
        task::{SETTABLE, TaskFields},
    },
    entity::task,
    events::{self, types},
    store::{self, tasks::TaskFilter},
};

impl Tasks {
    async fn find_task(&self, conn: &impl ConnectionTrait, tenant: &str, id: &str) -> ApiResult<task::Model> {
        store::tasks::find(conn, tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("task", id))
    }

    pub(super) async fn create_task(
        &self,
        caller: Caller,
        req: pb::CreateTaskRequest,
    ) -> ApiResult<pb::CreateTaskResponse> {
        let key = RequestKey::parse("CreateTask", &req.request_id, &req)?;
        let input = req.task.unwrap_or_default();
        let mut v = Violations::new();
        let f = TaskFields::parse(&mut v, &input, &SETTABLE, true);
        v.finish()?;
        let tenant = caller.tenant_id.as_str();
        if let Some(key) = &key
            && let Some(id) = key.find(&self.db, tenant).await?
        {
            let existing = self.find_task(&self.db, tenant, &id).await?;
            return Ok(pb::CreateTaskResponse {
                task: Some(convert::task(&existing)),
            });
        }
        let now = time::now_micros();
        let remind_before = f.remind_before.unwrap_or_default();
        let created = task::Model {
            id: new_id().to_string(),
            tenant_id: tenant.to_owned(),
            title: f.title.unwrap_or_default(),
            notes: f.notes.unwrap_or_default(),
            due_at: f.due_at.unwrap_or(now),
            assignee_id: f.assignee_id.unwrap_or_else(|| caller.user_id.clone()),
            priority: f.priority.unwrap_or(pb::TaskPriority::Normal as i32),
            status: TaskStatus::Open.as_str().to_owned(),
            deal_id: f.deal_id.flatten(),
            contact_id: f.contact_id.flatten(),
            rule_id: None,
            trigger_event_id: None,
            remind_before: durations::to_json(&remind_before),
            overdue_notified: false,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        };
        let txn = self.db.begin().await?;
        store::tasks::insert(&txn, &created).await?;
        store::reminders::replace(&txn, &created, &remind_before).await?;
        if let Some(key) = &key {
            key.remember(&txn, tenant, &created.id).await?;
        }
        let reply = convert::task(&created);
        let payload = ev::TaskCreated {
            task: Some(reply.clone()),
            trigger_event_id: String::new(),
        };
        events::append(&txn, &caller, types::TASK_CREATED, &created.id, 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::CreateTaskResponse { task: Some(reply) })
    }

    pub(super) async fn get_task(&self, caller: Caller, req: pb::GetTaskRequest) -> ApiResult<pb::GetTaskResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let t = self.find_task(&self.db, &caller.tenant_id, &id).await?;
        settings::scope(&self.db, &caller)
            .await?
            .check("task", &id, &t.assignee_id)?;
        Ok(pb::GetTaskResponse {
            task: Some(convert::task(&t)),
        })
    }

    pub(super) async fn update_task(
        &self,
        caller: Caller,
        req: pb::UpdateTaskRequest,
    ) -> ApiResult<pb::UpdateTaskResponse> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.task.unwrap_or_default();
        let mut v = Violations::new();
        let id = v.required_id("task.id", &input.id).map(|u| u.to_string());
        let given_etag = v.absorb(etag::parse("task.etag", &input.etag)).flatten();
        let f = TaskFields::parse(&mut v, &input, &paths, false);
        let id = v.finish_with(id)?;
        let tenant = caller.tenant_id.as_str();

        let txn = self.db.begin().await?;
        let current = self.find_task(&txn, tenant, &id).await?;
        settings::may_change(&txn, &caller, "task", &id, &current.assignee_id).await?;
        etag::check("task", &id, given_etag, current.version)?;
        let mut next = current.clone();
        let reschedule = f.due_at.is_some() || f.remind_before.is_some();
        if let Some(title) = f.title {
            next.title = title;
        }
        if let Some(notes) = f.notes {
            next.notes = notes;
        }
        if let Some(due) = f.due_at {
            // A new due time deserves its own overdue notice.
            next.overdue_notified &= due == current.due_at;
            next.due_at = due;
        }
        if let Some(a) = f.assignee_id {
            next.assignee_id = a;
        }
        if let Some(p) = f.priority {
            next.priority = p;
        }
        if let Some(d) = f.deal_id {
            next.deal_id = d;
        }
        if let Some(c) = f.contact_id {
            next.contact_id = c;
        }
        if let Some(r) = &f.remind_before {
            next.remind_before = durations::to_json(r);
        }
        next.version += 1;
        next.updated_at = time::now_micros();
        if !store::tasks::update_guarded(&txn, &next, current.version).await? {
            return Err(ApiError::Conflict);
        }
        if reschedule {
            let before = durations::from_json(&next.remind_before);
            store::reminders::replace(&txn, &next, &before).await?;
        }
        let reply = convert::task(&next);
        let payload = ev::TaskUpdated {
            task: Some(reply.clone()),
            changed_fields: paths.iter().map(|p| (*p).to_owned()).collect(),
        };
        events::append(&txn, &caller, types::TASK_UPDATED, &id, next.version, &payload).await?;
        txn.commit().await?;
        Ok(pb::UpdateTaskResponse { task: Some(reply) })
    }

    pub(super) async fn complete_task(
        &self,
        caller: Caller,
        req: pb::CompleteTaskRequest,
    ) -> ApiResult<pb::CompleteTaskResponse> {
        let (id, given_etag) = parse_target(&req.id, &req.etag)?;
        let id = id.to_string();
        let tenant = caller.tenant_id.as_str();
        let txn = self.db.begin().await?;
        let current = self.find_task(&txn, tenant, &id).await?;
        settings::may_change(&txn, &caller, "task", &id, &current.assignee_id).await?;
        etag::check("task", &id, given_etag, current.version)?;
        let status = TaskStatus::from_db(&current.status);
        if status != TaskStatus::Open {
            return Err(ApiError::precondition(
                "TASK_NOT_OPEN",
                format!("task/{id}"),
                format!("task {id} is {}; only an OPEN task can be completed", status.as_str()),
            ));
        }
        let now = time::now_micros();
        let mut next = current.clone();
        next.status = TaskStatus::Done.as_str().to_owned();
        next.completed_at = Some(now);
        next.updated_at = now;
        next.version += 1;
        if !store::tasks::update_guarded(&txn, &next, current.version).await? {
            return Err(ApiError::Conflict);
        }
        let reply = convert::task(&next);
        let payload = ev::TaskCompleted {
            task: Some(reply.clone()),
        };
        events::append(&txn, &caller, types::TASK_COMPLETED, &id, next.version, &payload).await?;
        txn.commit().await?;
        Ok(pb::CompleteTaskResponse { task: Some(reply) })
    }

    pub(super) async fn delete_task(
        &self,
        caller: Caller,
        req: pb::DeleteTaskRequest,
    ) -> ApiResult<pb::DeleteTaskResponse> {
        let (id, given_etag) = parse_target(&req.id, &req.etag)?;
        let id = id.to_string();
        let tenant = caller.tenant_id.as_str();
        let txn = self.db.begin().await?;
        let current = self.find_task(&txn, tenant, &id).await?;
        settings::may_change(&txn, &caller, "task", &id, &current.assignee_id).await?;
        etag::check("task", &id, given_etag, current.version)?;
        store::reminders::delete_for_task(&txn, tenant, &id).await?;
        store::tasks::delete(&txn, tenant, &id).await?;
        let payload = ev::TaskDeleted { task_id: id.clone() };
        events::append(&txn, &caller, types::TASK_DELETED, &id, current.version + 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::DeleteTaskResponse {})
    }

    pub(super) async fn list_tasks(
        &self,
        caller: Caller,
        req: pb::ListTasksRequest,
    ) -> ApiResult<pb::ListTasksResponse> {
        let mut filter = parse_filter(&req)?;
        filter.assignee_id = settings::scope(&self.db, &caller).await?.narrow(filter.assignee_id);
        let query = filter.fingerprint();
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &query)?;
        let now = time::now_micros();
        let tenant = caller.tenant_id.as_str();
        let mut rows = store::tasks::list(&self.db, tenant, &filter, now, page.after.as_ref(), page.size + 1).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &query, |t| (t.due_at, t.id.clone()));
        Ok(pb::ListTasksResponse {
            tasks: rows.iter().map(convert::task).collect(),
            next_page_token,
        })
    }
}

fn parse_filter(req: &pb::ListTasksRequest) -> ApiResult<TaskFilter> {
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
    let filter = TaskFilter {
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
