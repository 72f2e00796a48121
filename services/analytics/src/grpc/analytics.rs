//! The RPC bodies: parse, load the pipeline's history, apply the definitions.

use crm_kit::{ApiError, ApiResult, auth::Caller, tenant::Tenant, time, validate::Violations};
use crm_proto::analytics::v1 as pb;

use super::{
    Analytics,
    parse::{self, Scope},
    segments::{Group, Segments},
};
use crate::{
    cache::Snapshot,
    domain::{DAY, View, bottlenecks, durations, forecast, funnel, owners, velocity},
    store,
};

impl Analytics {
    /// Runs `report` over the scope's pipeline as it is now, off the async
    /// workers (a report is a pass over every deal of the pipeline);
    /// NOT_FOUND when the tenant has no stages of it projected.
    async fn report<R: Send + 'static>(
        &self,
        caller: &Caller,
        scope: Scope,
        report: impl FnOnce(View<'_>) -> R + Send + 'static,
    ) -> ApiResult<R> {
        self.with_snapshot(caller, scope, move |s, owner, now| report(s.history().view(owner, now)))
            .await
    }

    /// [`Self::report`] over the segments' deals: the filtered numbers,
    /// and those of each group.
    async fn segmented<R: Send + 'static>(
        &self,
        caller: &Caller,
        scope: Scope,
        segments: Segments,
        report: impl Fn(View<'_>) -> R + Send + 'static,
    ) -> ApiResult<(R, Vec<Group<R>>)> {
        self.with_snapshot(caller, scope, move |s, owner, now| {
            let h = s.history();
            segments.run(h, |segment| report(h.view_in(owner, segment, now)))
        })
        .await
    }

    /// `scope` within what the caller may read: under owner visibility a
    /// rep's or viewer's numbers are of their own deals only.
    async fn visible(&self, caller: &Caller, mut scope: Scope) -> ApiResult<Scope> {
        // A tenant caught up from the pipeline service brings its settings.
        self.catch_up.ensure(&caller.tenant_id).await?;
        // Read each time: the projection's copy changes under its consumer.
        let settings = crm_tenancy::settings::get(&self.db, &Tenant::of(caller)).await?;
        scope.owner = crm_tenancy::Scope::under(caller, &settings).narrow(scope.owner);
        Ok(scope)
    }

    /// Like [`Self::report`], with the read model itself.
    async fn with_snapshot<R: Send + 'static>(
        &self,
        caller: &Caller,
        scope: Scope,
        report: impl FnOnce(&Snapshot, Option<&str>, i64) -> R + Send + 'static,
    ) -> ApiResult<R> {
        let started = std::time::Instant::now();
        let scope = self.visible(caller, scope).await?;
        let snapshot = self.models.read(&Tenant::of(caller), &scope.pipeline_id).await?;
        let read = started.elapsed();
        if snapshot.history().stages().is_empty() {
            return Err(ApiError::not_found("pipeline", scope.pipeline_id));
        }
        let now = time::now_micros();
        let computed = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            (report(&snapshot, scope.owner.as_deref(), now), started.elapsed())
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()));
        // Where a slow report spent its time: bringing the read model up to
        // date, the pass itself, or waiting for a core.
        if let Ok((_, pass)) = &computed {
            tracing::debug!(
                read_ms = read.as_secs_f64() * 1e3,
                pass_ms = pass.as_secs_f64() * 1e3,
                total_ms = started.elapsed().as_secs_f64() * 1e3,
                "report"
            );
        }
        computed.map(|(r, _)| r)
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
        let segments = Segments::parse(
            &self.db,
            &Tenant::of(&caller),
            req.field_filter.as_ref(),
            &req.group_by_field,
        )
        .await?;
        if segments.is_plain() {
            return self
                .with_snapshot(&caller, scope, move |s, owner, now| s.funnel(owner, period, now))
                .await;
        }
        let (mut reply, groups) = self
            .segmented(&caller, scope, segments, move |v| funnel::funnel(&v, period))
            .await?;
        reply.groups = groups
            .into_iter()
            .map(|(option_id, option_label, f)| pb::FunnelGroup {
                option_id,
                option_label,
                funnel: Some(f),
            })
            .collect();
        Ok(reply)
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
        self.report(&caller, scope, move |v| durations::durations(&v, period))
            .await
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
        self.report(&caller, scope, move |v| {
            velocity::velocity(&v, v.now - i64::from(days) * DAY)
        })
        .await
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
        let limit = parse::positive_or_default(&mut v, "stalled_limit", req.stalled_limit, 100, 1000);
        let period = v.finish_with(period)?;
        let limit = usize::try_from(limit).unwrap_or(100);
        self.report(&caller, scope, move |v| {
            bottlenecks::bottlenecks(&v, period, i64::from(min), limit)
        })
        .await
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
        let scope = self.visible(&caller, scope).await?;
        let owner = scope.owner.as_deref();
        let tenant = Tenant::of(&caller);
        let activities = store::activities(&self.db, &tenant, owner, period).await?;
        let segments = Segments::parse(&self.db, &tenant, req.field_filter.as_ref(), &req.group_by_field).await?;
        let (mut reply, groups) = self
            .segmented(&caller, scope, segments, move |v| {
                owners::owners(&v, period, v.owner, &activities)
            })
            .await?;
        reply.groups = groups
            .into_iter()
            .map(|(option_id, option_label, p)| pb::OwnerPerformanceGroup {
                option_id,
                option_label,
                performance: Some(p),
            })
            .collect();
        Ok(reply)
    }

    pub(super) async fn get_forecast(
        &self,
        caller: Caller,
        req: pb::GetForecastRequest,
    ) -> ApiResult<pb::GetForecastResponse> {
        let (scope, ask) = parse::forecast(&req)?;
        let segments = Segments::parse(
            &self.db,
            &Tenant::of(&caller),
            req.field_filter.as_ref(),
            &req.group_by_field,
        )
        .await?;
        let (mut reply, groups) = self
            .segmented(&caller, scope, segments, move |v| {
                forecast::forecast(&v, &ask.at(v.now))
            })
            .await?;
        reply.groups = groups
            .into_iter()
            .map(|(option_id, option_label, f)| pb::ForecastGroup {
                option_id,
                option_label,
                forecast: Some(f),
            })
            .collect();
        Ok(reply)
    }

    /// Replays the pipeline service's export into this tenant's projections.
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
