//! The activity RPCs: logging an interaction and reading a timeline.

use crm_kit::{ApiResult, auth::Caller, idempotency::RequestKey, time::now_micros};
use crm_proto::contacts::v1 as pb;
use sea_orm::TransactionTrait;

use super::Contacts;
use crate::{
    convert,
    domain::activity::{NewActivity, Timeline},
    events,
    store::{activities, companies, contacts},
};

pub(super) async fn log(
    svc: &Contacts,
    caller: &Caller,
    req: pb::LogActivityRequest,
) -> ApiResult<pb::LogActivityResponse> {
    let now = now_micros();
    let activity = NewActivity::parse(req.activity.as_ref(), now)?;
    let key = RequestKey::parse("LogActivity", &req.request_id, &req)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    if let Some(id) = match &key {
        Some(key) => key.find(&txn, tenant).await?,
        None => None,
    } {
        let row = activities::get(&txn, tenant, &id).await?;
        return Ok(pb::LogActivityResponse {
            activity: Some(convert::activity(&row)),
        });
    }
    if let Some(contact) = activity.contact_id {
        contacts::ensure_exists(&txn, tenant, contact, "activity.contact_id").await?;
    }
    if let Some(company) = activity.company_id {
        companies::ensure_exists(&txn, tenant, company, "activity.company_id").await?;
    }
    let row = activities::insert(&txn, tenant, &caller.user_id, &activity, now).await?;
    events::activity_logged(&txn, caller, &row).await?;
    if let Some(key) = &key {
        key.remember(&txn, tenant, &row.id).await?;
    }
    txn.commit().await?;
    Ok(pb::LogActivityResponse {
        activity: Some(convert::activity(&row)),
    })
}

pub(super) async fn list(
    svc: &Contacts,
    caller: &Caller,
    req: pb::ListActivitiesRequest,
) -> ApiResult<pb::ListActivitiesResponse> {
    let timeline = Timeline::parse(req.subject.as_ref())?;
    let fingerprint = timeline.fingerprint();
    let tokens = &svc.shared.page_tokens;
    let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &fingerprint)?;
    let mut rows = activities::list(&svc.db, &caller.tenant_id, timeline, page.after, page.size + 1).await?;
    let next_page_token = tokens.finish(&mut rows, page.size, &fingerprint, |row| {
        (row.occurred_at, row.id.clone())
    });
    Ok(pb::ListActivitiesResponse {
        activities: rows.iter().map(convert::activity).collect(),
        next_page_token,
    })
}
