//! The company RPCs.

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    settings,
    time::now_micros,
    validate::{parse_id, parse_target},
};
use crm_proto::contacts::v1 as pb;
use sea_orm::TransactionTrait;

use super::Contacts;
use crate::{
    convert,
    domain::{
        company::{CompanyFields, CompanyUpdate},
        listing,
    },
    events,
    store::companies,
};

pub(super) async fn create(
    svc: &Contacts,
    caller: &Caller,
    req: pb::CreateCompanyRequest,
) -> ApiResult<pb::CreateCompanyResponse> {
    let fields = CompanyFields::parse(req.company.as_ref(), &caller.user_id)?;
    let key = RequestKey::parse("CreateCompany", &req.request_id, &req)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    if let Some(id) = match &key {
        Some(key) => key.find(&txn, tenant).await?,
        None => None,
    } {
        let row = companies::find(&txn, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("company", id))?;
        return Ok(pb::CreateCompanyResponse {
            company: Some(convert::company(&row)),
        });
    }
    let row = companies::insert(&txn, tenant, &fields, now_micros()).await?;
    events::company_created(&txn, caller, &row).await?;
    if let Some(key) = &key {
        key.remember(&txn, tenant, &row.id).await?;
    }
    txn.commit().await?;
    Ok(pb::CreateCompanyResponse {
        company: Some(convert::company(&row)),
    })
}

pub(super) async fn get(
    svc: &Contacts,
    caller: &Caller,
    req: pb::GetCompanyRequest,
) -> ApiResult<pb::GetCompanyResponse> {
    let id = parse_id("id", &req.id)?;
    let row = companies::get(&svc.db, &caller.tenant_id, id).await?;
    settings::scope(&svc.db, caller)
        .await?
        .check("company", &row.id, &row.owner_id)?;
    Ok(pb::GetCompanyResponse {
        company: Some(convert::company(&row)),
    })
}

pub(super) async fn update(
    svc: &Contacts,
    caller: &Caller,
    req: pb::UpdateCompanyRequest,
) -> ApiResult<pb::UpdateCompanyResponse> {
    let update = CompanyUpdate::parse(&req)?;
    let txn = svc.db.begin().await?;
    let current = companies::get(&txn, &caller.tenant_id, update.id).await?;
    settings::may_change(&txn, caller, "company", &current.id, &current.owner_id).await?;
    etag::check("company", &current.id, update.etag, current.version)?;
    let (next, changed) = update.apply(&companies::fields(&current));
    if changed.is_empty() {
        return Ok(pb::UpdateCompanyResponse {
            company: Some(convert::company(&current)),
        });
    }
    let row = companies::update(&txn, &current, &next, now_micros()).await?;
    events::company_updated(&txn, caller, &row, changed).await?;
    txn.commit().await?;
    Ok(pb::UpdateCompanyResponse {
        company: Some(convert::company(&row)),
    })
}

pub(super) async fn delete(
    svc: &Contacts,
    caller: &Caller,
    req: pb::DeleteCompanyRequest,
) -> ApiResult<pb::DeleteCompanyResponse> {
    let (id, given) = parse_target(&req.id, &req.etag)?;
    let tenant = &caller.tenant_id;
    let txn = svc.db.begin().await?;
    let current = companies::get(&txn, tenant, id).await?;
    settings::may_change(&txn, caller, "company", &current.id, &current.owner_id).await?;
    etag::check("company", &current.id, given, current.version)?;
    if companies::has_contacts(&txn, tenant, &current.id).await? {
        return Err(ApiError::precondition(
            "COMPANY_HAS_CONTACTS",
            "id",
            format!("company {id} still has contacts; move or delete them first"),
        ));
    }
    companies::delete(&txn, &current).await?;
    events::company_deleted(&txn, caller, &current).await?;
    txn.commit().await?;
    Ok(pb::DeleteCompanyResponse {})
}

pub(super) async fn list(
    svc: &Contacts,
    caller: &Caller,
    req: pb::ListCompaniesRequest,
) -> ApiResult<pb::ListCompaniesResponse> {
    let query = listing::company_query(&req)?;
    let owner = settings::scope(&svc.db, caller).await?.narrow(None);
    let fingerprint = format!(
        "{}&owner={}",
        listing::company_fingerprint(&query),
        owner.as_deref().unwrap_or("")
    );
    let tokens = &svc.shared.page_tokens;
    let page = tokens.parse::<String>(req.page_size, &req.page_token, &fingerprint)?;
    let mut rows = companies::list(
        &svc.db,
        &caller.tenant_id,
        &query,
        owner.as_deref(),
        page.after.as_deref(),
        page.size + 1,
    )
    .await?;
    let next_page_token = tokens.finish(&mut rows, page.size, &fingerprint, |row| row.id.clone());
    Ok(pb::ListCompaniesResponse {
        companies: rows.iter().map(convert::company).collect(),
        next_page_token,
    })
}
