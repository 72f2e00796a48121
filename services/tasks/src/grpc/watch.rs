//! WatchReminders: the reminders the scheduler announces, filtered to the
//! caller's tenant (so another tenant's are unreachable by construction)
//! and one assignee, until the client hangs up.

use crm_kit::{ApiResult, auth::Caller, validate::Violations};
use crm_proto::tasks::v1 as pb;
use tokio_stream::{StreamExt, wrappers::BroadcastStream};

use super::{ReminderStream, Tasks};

impl Tasks {
    pub(super) async fn watch_reminders(
        &self,
        caller: Caller,
        req: pb::WatchRemindersRequest,
    ) -> ApiResult<ReminderStream> {
        let assignee = if req.assignee_id.is_empty() {
            caller.user_id.clone()
        } else {
            let mut v = Violations::new();
            let id = v.user_id("assignee_id", &req.assignee_id);
            v.finish()?;
            id
        };
        // Under owner visibility a rep or viewer watches only their own.
        self.settings
            .scope(&caller)
            .await?
            .check("reminders of", &assignee, &assignee)?;
        let tenant = caller.tenant_id;
        let stream = BroadcastStream::new(self.hub.subscribe()).filter_map(move |item| match item {
            Ok(due) if due.tenant_id == tenant && due.assignee_id == assignee => Some(Ok(pb::WatchRemindersResponse {
                reminder: Some(due.reminder),
            })),
            Ok(_) => None,
            Err(lagged) => {
                tracing::warn!(error = %lagged, "a reminder watcher fell behind and missed reminders");
                None
            }
        });
        Ok(Box::pin(stream))
    }
}
