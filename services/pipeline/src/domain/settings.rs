//! The tenant's settings as an admin changes them: today, who sees which
//! records (TEAM: everyone everything; OWNER: reps and viewers their own).

use crm_kit::{ApiError, ApiResult, etag, tenant::Tenant};
use crm_proto::{common::v1::Visibility, pipeline::v1 as pb};
use crm_tenancy::settings::entity::Model as Settings;

/// A valid UpdateTenantSettings request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingsUpdate {
    /// The new visibility.
    pub visibility: Visibility,
    /// The version the caller read, if they named one.
    pub etag: Option<i64>,
}

impl SettingsUpdate {
    /// Parses the request, naming the bad field.
    pub fn parse(req: &pb::UpdateTenantSettingsRequest) -> ApiResult<Self> {
        let given = req.settings.clone().unwrap_or_default();
        let visibility = match Visibility::try_from(given.visibility) {
            Ok(v @ (Visibility::Team | Visibility::Owner)) => v,
            _ => {
                return Err(ApiError::invalid(
                    "settings.visibility",
                    "must be VISIBILITY_TEAM or VISIBILITY_OWNER",
                ));
            }
        };
        let etag = etag::parse("settings.etag", &given.etag)?;
        Ok(Self { visibility, etag })
    }

    /// The settings after the change to `current` (ABORTED when the caller
    /// read another version).
    pub fn apply(&self, tenant: &Tenant, current: &Settings, now: i64) -> ApiResult<Settings> {
        etag::check("tenant settings", tenant.as_str(), self.etag, current.version)?;
        Ok(Settings {
            tenant_id: tenant.id(),
            visibility: self.visibility as i32,
            version: current.version + 1,
            update_time: now,
        })
    }
}
