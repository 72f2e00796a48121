//! The activity RPCs: logging an interaction and reading a timeline.

use crm_kit::{ApiResult, auth::Caller, idempotency::RequestKey, settings, time::now_micros};
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
    // Under owner visibility: the timeline of a contact or company the
    // caller owns; of a deal (whose owner the pipeline knows), the
    // activities they logged themselves.
    let scope = settings::scope(&svc.db, caller).await?;
    let author = match (&scope, timeline) {
        (settings::Scope::All, _) => None,
        (_, Timeline::Contact(id)) => {
            let c = crate::store::contacts::get(&svc.db, &caller.tenant_id, &id.to_string()).await?;
            scope.check("contact", &c.row.id, &c.row.owner_id)?;
            None
        }
        (_, Timeline::Company(id)) => {
            let c = crate::store::companies::get(&svc.db, &caller.tenant_id, id).await?;
            scope.check("company", &c.id, &c.owner_id)?;
            None
        }
        (settings::Scope::Own(user), Timeline::Deal(_)) => Some(user.clone()),
    };
    let fingerprint = format!("{}&author={}", timeline.fingerprint(), author.as_deref().unwrap_or(""));
    let tokens = &svc.shared.page_tokens;
    let page = tokens.parse::<(i64, String)>(req.page_size, &req.page_token, &fingerprint)?;
    let mut rows = activities::list(
        &svc.db,
        &caller.tenant_id,
        timeline,
        author.as_deref(),
        page.after,
        page.size + 1,
    )
    .await?;
    let next_page_token = tokens.finish(&mut rows, page.size, &fingerprint, |row| {
        (row.occurred_at, row.id.clone())
    });
    Ok(pb::ListActivitiesResponse {
        activities: rows.iter().map(convert::activity).collect(),
        next_page_token,
    })
}
