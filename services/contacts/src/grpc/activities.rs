//! The activity RPCs: logging an interaction and reading a timeline.

use crm_kit::{ApiResult, auth::Caller, idempotency::RequestKey, tenant::Tenant, time::now_micros};
use crm_proto::contacts::v1 as pb;
use crm_tenancy::Scope;
use sea_orm::TransactionTrait;

use super::Contacts;
use crate::{
    convert,
    domain::activity::{NewActivity, Timeline},
    events,
    store::{activities, companies, contacts},
};

impl Contacts {
    pub(super) async fn log_activity(
        &self,
        caller: Caller,
        req: pb::LogActivityRequest,
    ) -> ApiResult<pb::LogActivityResponse> {
        let now = now_micros();
        let activity = NewActivity::parse(req.activity.as_ref(), now)?;
        let key = RequestKey::parse("LogActivity", &req.request_id, &req)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        if let Some(id) = key.created_before(&txn, &tenant).await? {
            let row = activities::get(&txn, &tenant, &id).await?;
            let activity = Some(convert::activity(&row));
            return Ok(pb::LogActivityResponse { activity });
        }
        if let Some(contact) = activity.contact_id {
            contacts::ensure_exists(&txn, &tenant, contact, "activity.contact_id").await?;
        }
        if let Some(company) = activity.company_id {
            companies::ensure_exists(&txn, &tenant, company, "activity.company_id").await?;
        }
        let row = activities::insert(&txn, &tenant, &caller.user_id, &activity, now).await?;
        events::activity_logged(&txn, &caller, &row).await?;
        key.remember(&txn, &tenant, &row.id).await?;
        txn.commit().await?;
        let activity = Some(convert::activity(&row));
        Ok(pb::LogActivityResponse { activity })
    }

    pub(super) async fn list_activities(
        &self,
        caller: Caller,
        req: pb::ListActivitiesRequest,
    ) -> ApiResult<pb::ListActivitiesResponse> {
        let timeline = Timeline::parse(req.subject.as_ref())?;
        let tenant = Tenant::of(&caller);
        let author = self.author_filter(&caller, &tenant, timeline).await?;
        let fingerprint = timeline.fingerprint_for(author.as_deref());
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &fingerprint)?;
        let (after, limit) = (page.after, page.size + 1);
        let mut rows = activities::list(&self.db, &tenant, timeline, author.as_deref(), after, limit).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &fingerprint, |row| {
            (row.occurred_at, row.id.clone())
        });
        Ok(pb::ListActivitiesResponse {
            activities: rows.iter().map(convert::activity).collect(),
            next_page_token,
        })
    }

    /// Whose activities of `timeline` the caller reads. Under owner
    /// visibility: the timeline of a contact or company the caller owns
    /// (NOT_FOUND otherwise); of a deal (whose owner the pipeline knows),
    /// the activities they logged themselves.
    async fn author_filter(&self, caller: &Caller, tenant: &Tenant, timeline: Timeline) -> ApiResult<Option<String>> {
        let scope = self.settings.scope(caller).await?;
        match (&scope, timeline) {
            (Scope::All, _) => Ok(None),
            (_, Timeline::Contact(id)) => {
                let c = contacts::get(&self.db, tenant, &id.to_string()).await?;
                scope.check_record(&c).map(|()| None)
            }
            (_, Timeline::Company(id)) => {
                let c = companies::get(&self.db, tenant, id).await?;
                scope.check_record(&c).map(|()| None)
            }
            (Scope::Own(user), Timeline::Deal(_)) => Ok(Some(user.clone())),
        }
    }
}
