//! The company RPCs.

use crm_fields::RecordType;
use crm_kit::{
    ApiError, ApiResult, auth::Caller, etag::Target, idempotency::RequestKey, tenant::Tenant, time::now_micros,
    validate::parse_id,
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
    store::{self, companies},
};

impl Contacts {
    pub(super) async fn create_company(
        &self,
        caller: Caller,
        req: pb::CreateCompanyRequest,
    ) -> ApiResult<pb::CreateCompanyResponse> {
        let key = RequestKey::parse("CreateCompany", &req.request_id, &req)?;
        let tenant = Tenant::of(&caller);
        let defs = store::fields(&self.db, &tenant, RecordType::Company).await?;
        let fields = CompanyFields::parse(req.company.as_ref(), &caller.user_id, &defs)?;
        let txn = self.db.begin().await?;
        if let Some(id) = key.created_before(&txn, &tenant).await? {
            let row = companies::find(&txn, &tenant, &id).await?;
            let row = row.ok_or_else(|| ApiError::not_found("company", id))?;
            let company = Some(convert::company(&row, &defs));
            return Ok(pb::CreateCompanyResponse { company });
        }
        let row = companies::insert(&txn, &tenant, &fields, now_micros()).await?;
        events::company_created(&txn, &caller, &row, &defs).await?;
        key.remember(&txn, &tenant, &row.id).await?;
        txn.commit().await?;
        let company = Some(convert::company(&row, &defs));
        Ok(pb::CreateCompanyResponse { company })
    }

    pub(super) async fn get_company(
        &self,
        caller: Caller,
        req: pb::GetCompanyRequest,
    ) -> ApiResult<pb::GetCompanyResponse> {
        let id = parse_id("id", &req.id)?;
        let tenant = Tenant::of(&caller);
        let row = companies::get(&self.db, &tenant, id).await?;
        self.settings.scope(&caller).await?.check_record(&row)?;
        let defs = store::fields(&self.db, &tenant, RecordType::Company).await?;
        let company = Some(convert::company(&row, &defs));
        Ok(pb::GetCompanyResponse { company })
    }

    pub(super) async fn update_company(
        &self,
        caller: Caller,
        req: pb::UpdateCompanyRequest,
    ) -> ApiResult<pb::UpdateCompanyResponse> {
        let update = CompanyUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = companies::get_by_id(&txn, &tenant, &update.target.id).await?;
        let current = scope.changeable(&caller, current, &update.target)?;
        let defs = store::fields(&txn, &tenant, RecordType::Company).await?;
        let (next, changed) = update.apply(&companies::fields(&current), &defs)?;
        if changed.is_empty() {
            let company = Some(convert::company(&current, &defs));
            return Ok(pb::UpdateCompanyResponse { company });
        }
        let row = companies::update(&txn, &tenant, &current, &next, now_micros()).await?;
        events::company_updated(&txn, &caller, &row, changed, &defs).await?;
        txn.commit().await?;
        let company = Some(convert::company(&row, &defs));
        Ok(pb::UpdateCompanyResponse { company })
    }

    pub(super) async fn delete_company(
        &self,
        caller: Caller,
        req: pb::DeleteCompanyRequest,
    ) -> ApiResult<pb::DeleteCompanyResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let scope = self.settings.scope(&caller).await?;
        let txn = self.db.begin().await?;
        let current = companies::get_by_id(&txn, &tenant, &target.id).await?;
        let current = scope.changeable(&caller, current, &target)?;
        if companies::has_contacts(&txn, &tenant, &current.id).await? {
            return Err(ApiError::precondition(
                "COMPANY_HAS_CONTACTS",
                "id",
                format!("company {} still has contacts; move or delete them first", current.id),
            ));
        }
        companies::delete(&txn, &tenant, &current).await?;
        events::company_deleted(&txn, &caller, &current).await?;
        txn.commit().await?;
        Ok(pb::DeleteCompanyResponse {})
    }

    pub(super) async fn list_companies(
        &self,
        caller: Caller,
        req: pb::ListCompaniesRequest,
    ) -> ApiResult<pb::ListCompaniesResponse> {
        let tenant = Tenant::of(&caller);
        let defs = store::fields(&self.db, &tenant, RecordType::Company).await?;
        let query = listing::company_query(&req, &defs)?;
        let owner = self.settings.scope(&caller).await?.narrow(None);
        let fingerprint = listing::company_fingerprint(&query, owner.as_deref());
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<String>(req.page_size, &req.page_token, &fingerprint)?;
        let (after, limit) = (page.after.as_deref(), page.size + 1);
        let mut rows = companies::list(&self.db, &tenant, &query, owner.as_deref(), after, limit).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, &fingerprint, |row| row.id.clone());
        Ok(pb::ListCompaniesResponse {
            companies: rows.iter().map(|r| convert::company(r, &defs)).collect(),
            next_page_token,
        })
    }
}
