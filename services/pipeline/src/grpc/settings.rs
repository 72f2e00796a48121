//! The tenant's settings: read by anyone, changed by admins, announced to
//! every service with `pipeline.tenant.settings_updated`.

use crm_kit::{ApiResult, auth::Caller, tenant::Tenant, time};
use crm_proto::pipeline::v1 as pb;
use crm_tenancy::settings;
use sea_orm::TransactionTrait;

use super::Pipelines;
use crate::{convert, domain::settings::SettingsUpdate, events};

impl Pipelines {
    pub(super) async fn get_tenant_settings(
        &self,
        caller: Caller,
        _req: pb::GetTenantSettingsRequest,
    ) -> ApiResult<pb::GetTenantSettingsResponse> {
        let s = settings::get(self.reads(), &Tenant::of(&caller)).await?;
        Ok(pb::GetTenantSettingsResponse {
            settings: Some(convert::settings(&s)),
        })
    }

    pub(super) async fn update_tenant_settings(
        &self,
        caller: Caller,
        req: pb::UpdateTenantSettingsRequest,
    ) -> ApiResult<pb::UpdateTenantSettingsResponse> {
        let update = SettingsUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        let current = settings::get(&txn, &tenant).await?;
        let next = update.apply(&tenant, &current, time::now_micros())?;
        settings::put(&txn, next.clone()).await?;
        events::settings_updated(&txn, &caller, &next).await?;
        crm_kit::cache::config_versions::bump(&txn, &tenant).await?;
        txn.commit().await?;
        Ok(pb::UpdateTenantSettingsResponse {
            settings: Some(convert::settings(&next)),
        })
    }
}
