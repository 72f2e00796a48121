//! The RPC bodies: parse, load the pipeline's history, apply the definitions.

use crm_kit::{ApiError, ApiResult, auth::Caller, time, validate::Violations};
use crm_proto::analytics::v1::{self as pb, ForecastGrouping};

use super::{
    Analytics,
    parse::{self, Scope},
};
use crate::{
    domain::{DAY, History, bottlenecks, durations, forecast, funnel, owners, velocity},
    store,
};

impl Analytics {
    /// The history of the scope's pipeline; NOT_FOUND when the tenant has
    /// no stages of it projected.
    async fn history(&self, caller: &Caller, scope: &Scope) -> ApiResult<History> {
        let tenant = caller.tenant_id.as_str();
        let stages = store::stages(&self.db, tenant, &scope.pipeline_id).await?;
        if stages.is_empty() {
            return Err(ApiError::not_found("pipeline", scope.pipeline_id.clone()));
        }
        let owner = scope.owner.as_deref();
        let now = time::now_micros();
        Ok(store::history(&self.db, tenant, &scope.pipeline_id, owner, stages, now).await?)
    }

    pub(super) async fn get_funnel(
        &self,
        caller: Caller,
        req: pb::GetFunnelRequest,
    ) -> ApiResult<pb::GetFunnelResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let period = parse::period(&mut v, req.period.as_ref());
        let period = v.finish_with(period)?;
        let h = self.history(&caller, &scope).await?;
        Ok(funnel::funnel(&h, period))
    }

    pub(super) async fn get_stage_durations(
        &self,
        caller: Caller,
        req: pb::GetStageDurationsRequest,
    ) -> ApiResult<pb::GetStageDurationsResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let period = parse::period(&mut v, req.period.as_ref());
        let period = v.finish_with(period)?;
        let h = self.history(&caller, &scope).await?;
        Ok(durations::durations(&h, period))
    }

    pub(super) async fn get_velocity(
        &self,
        caller: Caller,
        req: pb::GetVelocityRequest,
    ) -> ApiResult<pb::GetVelocityResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let days = parse::lookback(&mut v, "lookback_days", req.lookback_days, 90);
        parse::finish(v, ())?;
        let h = self.history(&caller, &scope).await?;
        Ok(velocity::velocity(&h, h.now - i64::from(days) * DAY))
    }

    pub(super) async fn get_bottlenecks(
        &self,
        caller: Caller,
        req: pb::GetBottlenecksRequest,
    ) -> ApiResult<pb::GetBottlenecksResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let period = parse::period(&mut v, req.period.as_ref());
        let min = parse::positive_or_default(&mut v, "min_entries", req.min_entries, 5, i32::MAX);
        let period = v.finish_with(period)?;
        let h = self.history(&caller, &scope).await?;
        Ok(bottlenecks::bottlenecks(&h, period, i64::from(min)))
    }

    pub(super) async fn get_owner_performance(
        &self,
        caller: Caller,
        req: pb::GetOwnerPerformanceRequest,
    ) -> ApiResult<pb::GetOwnerPerformanceResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let period = parse::period(&mut v, req.period.as_ref());
        let period = v.finish_with(period)?;
        let h = self.history(&caller, &scope).await?;
        let owner = scope.owner.as_deref();
        let activities = store::activities(&self.db, &caller.tenant_id, owner, period).await?;
        Ok(owners::owners(&h, period, owner, &activities))
    }

    pub(super) async fn get_forecast(
        &self,
        caller: Caller,
        req: pb::GetForecastRequest,
    ) -> ApiResult<pb::GetForecastResponse> {
        let mut v = Violations::new();
        let scope = parse::scope(&mut v, &req.pipeline_id, &req.owner_id);
        let from = parse::date(&mut v, "from", req.from.as_ref());
        let to = parse::date(&mut v, "to", req.to.as_ref());
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            v.add("to", "must not be before `from`");
        }
        let quarters = match ForecastGrouping::try_from(req.grouping) {
            Ok(ForecastGrouping::Quarter) => true,
            Ok(_) => false,
            Err(_) => {
                v.add("grouping", "must be MONTH or QUARTER");
                false
            }
        };
        let days = parse::lookback(&mut v, "lookback_days", req.lookback_days, 365);
        let min_sample = parse::positive_or_default(&mut v, "min_sample", req.min_sample, 10, i32::MAX);
        let dates = v.finish_with(from.zip(to))?;
        let h = self.history(&caller, &scope).await?;
        let q = forecast::Query {
            from: dates.0,
            to: dates.1,
            quarters,
            seed: req.seed,
            since: h.now - i64::from(days) * DAY,
            min_sample: i64::from(min_sample),
        };
        Ok(forecast::forecast(&h, &q))
    }

    /// Needs the pipeline service's export, which does not exist yet.
    pub(super) async fn rebuild_projections(
        &self,
        caller: Caller,
        _req: pb::RebuildProjectionsRequest,
    ) -> ApiResult<pb::RebuildProjectionsResponse> {
        if !caller.roles.iter().any(|r| r == "admin") {
            return Err(ApiError::PermissionDenied(
                "RebuildProjections needs the admin role".into(),
            ));
        }
        let done = crate::rebuild::rebuild(&self.db, &caller, &self.pipelines).await?;
        Ok(pb::RebuildProjectionsResponse {
            deals: done.deals,
            transitions: done.transitions,
        })
    }
}
