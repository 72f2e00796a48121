//! Task RPCs: create (idempotent), get, update, complete, delete, list.
//! What a task may become is [`crate::domain::task`].

use crm_kit::{
    ApiResult, auth::Caller, etag::Target, idempotency::RequestKey, tenant::Tenant, time, validate::parse_id,
};
use crm_proto::tasks::v1 as pb;
use sea_orm::TransactionTrait;

use super::Tasks;
use crate::{
    convert,
    domain::{NewTask, TaskUpdate, edits, listing::TaskFilter, task::TaskFields},
    events, store,
};

impl Tasks {
    /// Asks the pipeline and contacts services about the deal and contact
    /// the change sets (in the caller's tenant, as the caller sees them).
    async fn check_references(&self, caller: &Caller, f: &TaskFields) -> ApiResult<()> {
        if let Some(Some(id)) = &f.deal_id {
            self.pipelines.require_deal(caller, "task.deal_id", id).await?;
        }
        if let Some(Some(id)) = &f.contact_id {
            self.contacts.require_contact(caller, "task.contact_id", id).await?;
        }
        Ok(())
    }

    pub(super) async fn create_task(
        &self,
        caller: Caller,
        req: pb::CreateTaskRequest,
    ) -> ApiResult<pb::CreateTaskResponse> {
        let key = RequestKey::parse("CreateTask", &req.request_id, &req)?;
        let new = NewTask::parse(&req)?;
        let tenant = Tenant::of(&caller);
        if let Some(id) = key.created_before(&self.db, &tenant).await? {
            let existing = store::tasks::get(&self.db, &tenant, &id).await?;
            return Ok(pb::CreateTaskResponse {
                task: Some(convert::task(&existing)),
            });
        }
        self.check_references(&caller, new.fields()).await?;
        let created = new.create(&tenant, &caller.user_id, time::now_micros());
        let txn = self.db.begin().await?;
        store::tasks::insert(&txn, &created).await?;
        key.remember(&txn, &tenant, &created.id).await?;
        events::task_created(&txn, &caller, &created, "").await?;
        txn.commit().await?;
        Ok(pb::CreateTaskResponse {
            task: Some(convert::task(&created)),
        })
    }

    pub(super) async fn get_task(&self, caller: Caller, req: pb::GetTaskRequest) -> ApiResult<pb::GetTaskResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let t = store::tasks::get(&self.db, &Tenant::of(&caller), &id).await?;
        self.settings.scope(&caller).await?.check_record(&t)?;
        Ok(pb::GetTaskResponse {
            task: Some(convert::task(&t)),
        })
    }

    pub(super) async fn update_task(
        &self,
        caller: Caller,
        req: pb::UpdateTaskRequest,
    ) -> ApiResult<pb::UpdateTaskResponse> {
        let update = TaskUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        if update.fields.names_references() {
            // Cheap checks first, so a stale or foreign task is not worth a peer call.
            let before = store::tasks::get(&self.db, &tenant, &update.target.id).await?;
            scope.changeable(&caller, before, &update.target)?;
            self.check_references(&caller, &update.fields).await?;
        }
        let txn = self.db.begin().await?;
        let current = store::tasks::get(&txn, &tenant, &update.target.id).await?;
        let current = scope.changeable(&caller, current, &update.target)?;
        let next = update.apply(&current, time::now_micros());
        store::tasks::save(&txn, &tenant, &next, current.version, update.reschedules()).await?;
        events::task_updated(&txn, &caller, &next, update.paths).await?;
        txn.commit().await?;
        Ok(pb::UpdateTaskResponse {
            task: Some(convert::task(&next)),
        })
    }

    pub(super) async fn complete_task(
        &self,
        caller: Caller,
        req: pb::CompleteTaskRequest,
    ) -> ApiResult<pb::CompleteTaskResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = store::tasks::get(&txn, &tenant, &target.id).await?;
        let current = scope.changeable(&caller, current, &target)?;
        let next = edits::complete(&current, time::now_micros())?;
        store::tasks::save(&txn, &tenant, &next, current.version, false).await?;
        events::task_completed(&txn, &caller, &next).await?;
        txn.commit().await?;
        Ok(pb::CompleteTaskResponse {
            task: Some(convert::task(&next)),
        })
    }

    pub(super) async fn delete_task(
        &self,
        caller: Caller,
        req: pb::DeleteTaskRequest,
    ) -> ApiResult<pb::DeleteTaskResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = store::tasks::get(&txn, &tenant, &target.id).await?;
        let current = scope.changeable(&caller, current, &target)?;
        store::tasks::delete(&txn, &tenant, &current).await?;
        events::task_deleted(&txn, &caller, &current).await?;
        txn.commit().await?;
        Ok(pb::DeleteTaskResponse {})
    }

    pub(super) async fn list_tasks(
        &self,
        caller: Caller,
        req: pb::ListTasksRequest,
    ) -> ApiResult<pb::ListTasksResponse> {
        let mut filter = TaskFilter::parse(&req)?;
        filter.assignee_id = self.settings.scope(&caller).await?.narrow(filter.assignee_id);
        let query = filter.fingerprint();
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &query)?;
        let (now, tenant) = (time::now_micros(), Tenant::of(&caller));
        let (after, limit) = (page.after.as_ref(), page.size + 1);
        let mut rows = store::tasks::list(&self.db, &tenant, &filter, now, after, limit).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &query, |t| (t.due_at, t.id.clone()));
        Ok(pb::ListTasksResponse {
            tasks: rows.iter().map(convert::task).collect(),
            next_page_token,
        })
    }
}
