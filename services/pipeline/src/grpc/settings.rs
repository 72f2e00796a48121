//! The tenant's settings: read by anyone, changed by admins, announced to
//! every service with `pipeline.tenant.settings_updated`.

use crm_kit::{ApiError, ApiResult, auth::Caller, etag, settings, time};
use crm_proto::{common::v1::Visibility, events::v1 as ev, pipeline::v1 as pb};
use sea_orm::TransactionTrait;

use super::Pipelines;
use crate::events;

fn to_proto(s: &settings::entity::Model) -> pb::TenantSettings {
    pb::TenantSettings {
        visibility: s.visibility,
        etag: etag::format(s.version),
        update_time: (s.version > 0).then(|| time::to_timestamp(s.update_time)),
    }
}

impl Pipelines {
    pub(super) async fn get_tenant_settings(
        &self,
        caller: Caller,
        _req: pb::GetTenantSettingsRequest,
    ) -> ApiResult<pb::GetTenantSettingsResponse> {
        let s = settings::get(&self.db, &caller.tenant_id).await?;
        Ok(pb::GetTenantSettingsResponse {
            settings: Some(to_proto(&s)),
        })
    }

    pub(super) async fn update_tenant_settings(
        &self,
        caller: Caller,
        req: pb::UpdateTenantSettingsRequest,
    ) -> ApiResult<pb::UpdateTenantSettingsResponse> {
        let given = req.settings.unwrap_or_default();
        let visibility = match Visibility::try_from(given.visibility) {
            Ok(v @ (Visibility::Team | Visibility::Owner)) => v,
            _ => {
                return Err(ApiError::invalid(
                    "settings.visibility",
                    "must be VISIBILITY_TEAM or VISIBILITY_OWNER",
                ));
            }
        };
        let given_etag = if given.etag.is_empty() {
            None
        } else {
            etag::parse("settings.etag", &given.etag)?
        };
        let tenant = &caller.tenant_id;
        let txn = self.db.begin().await?;
        let current = settings::get(&txn, tenant).await?;
        etag::check("tenant settings", tenant, given_etag, current.version)?;
        let next = settings::entity::Model {
            tenant_id: tenant.clone(),
            visibility: visibility as i32,
            version: current.version + 1,
            update_time: time::now_micros(),
        };
        settings::put(&txn, next.clone()).await?;
        let payload = ev::TenantSettingsUpdated {
            visibility: visibility as i32,
        };
        events::append(
            &txn,
            &caller,
            settings::TENANT_SETTINGS_UPDATED,
            tenant,
            next.version,
            &payload,
        )
        .await?;
        txn.commit().await?;
        Ok(pb::UpdateTenantSettingsResponse {
            settings: Some(to_proto(&next)),
        })
    }
}
