//! Delivery and input: duplicated and scrambled events give the same
//! numbers, tenants never see each other, pipeline changes and deal
//! deletions are projected whatever the order, bad input is rejected.

use crm_analytics::projection::Projector;
use crm_kit::{
    bus::{Handler, inbox::Applied},
    testing::{Backend, authed, token},
};
use crm_proto::{
    analytics::v1 as pb,
    common::v1::{Date, StageKind},
    events::v1 as ev,
    pipeline::v1 as ppb,
};
use sea_orm::TransactionTrait;
use tonic::Code;

use super::{
    checks,
    harness::{Suite, assert_bad_field, money, period, suite, token_of},
    history::{
        D, D1, D2, D3, D5, D6, D7, LEAD, P, QUAL, Snap, T0, created, envelope, history, imported, moved, scrambled,
        stages,
    },
};

async fn funnel_of(s: &mut Suite, tenant: &str) -> pb::GetFunnelResponse {
    let req = pb::GetFunnelRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        ..Default::default()
    };
    s.client
        .get_funnel(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner()
}

async fn duplicated_and_scrambled_events_give_the_same_numbers(backend: Backend) {
    let Some(mut s) = suite(backend, "scrambled").await else {
        return;
    };
    // Two tenants with the same ids: acme in commit order, globex scrambled.
    s.deliver(&history("acme")).await;
    s.deliver(&scrambled("globex")).await;
    for tenant in ["acme", "globex"] {
        checks::all(&mut s, tenant).await;
    }
    let a = s
        .client
        .get_forecast(authed(&token_of("acme"), checks::forecast_request(5, 1)))
        .await;
    let g = s
        .client
        .get_forecast(authed(&token_of("globex"), checks::forecast_request(5, 1)))
        .await;
    assert_eq!(a.unwrap().into_inner(), g.unwrap().into_inner());
}

async fn events_applied_in_batches_give_the_same_numbers(backend: Backend) {
    let Some(mut s) = suite(backend, "batches").await else {
        return;
    };
    // The RabbitMQ consumer applies the deliveries that are ready together
    // in one transaction: in order, and scrambled with duplicates (some in
    // the same batch), with batches of deal events only and mixed ones.
    s.deliver_in_batches(&history("acme"), 4).await;
    let mut twice = scrambled("globex");
    twice.extend(twice.clone().into_iter().rev());
    s.deliver_in_batches(&twice, 7).await;
    // Every deal event at once (after the rest): several snapshots of one
    // deal, out of order, in one batch.
    let (deals, rest): (Vec<_>, Vec<_>) = scrambled("initech")
        .into_iter()
        .partition(|e| e.r#type.starts_with("pipeline.deal.") && e.r#type != "pipeline.deal.deleted");
    s.deliver(&rest).await;
    s.deliver_in_batches(&deals, 1000).await;
    for tenant in ["acme", "globex", "initech"] {
        checks::all(&mut s, tenant).await;
    }
    // One batch holding a deal's move before its creation: the newer
    // snapshot stays, whatever the order.
    let board: Vec<_> = history("umbrella")
        .into_iter()
        .filter(|e| e.r#type.starts_with("pipeline.pipeline."))
        .collect();
    s.deliver(&board).await;
    let d = Snap::new(D7, "ann", money("EUR", 100, 0), LEAD, T0 + D, None);
    let mut batch = moved("umbrella", &d.moved(QUAL, T0 + 2 * D), LEAD, 2, T0 + 2 * D);
    batch.push(created("umbrella", &d, T0 + D));
    s.deliver_in_batches(&batch, 10).await;
    let f = funnel_of(&mut s, "umbrella").await;
    let now: Vec<_> = f
        .stages
        .iter()
        .map(|st| (st.stage_id.as_str(), st.current_count))
        .collect();
    assert_eq!(now, [(LEAD, 0), (QUAL, 1)]);
}

async fn a_tenant_never_sees_another_tenants_pipeline(backend: Backend) {
    let Some(mut s) = suite(backend, "isolation").await else {
        return;
    };
    s.deliver(&history("acme")).await;
    let req = pb::GetFunnelRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        ..Default::default()
    };
    let err = s
        .client
        .get_funnel(authed(&token_of("initech"), req))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let req = pb::GetVelocityRequest {
        pipeline_id: "019a0000-0000-7000-8000-00000000ffff".into(),
        ..Default::default()
    };
    let err = s.client.get_velocity(authed(&token_of("acme"), req)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

async fn a_newer_pipeline_version_replaces_the_stages_and_an_older_one_is_ignored(backend: Backend) {
    let Some(mut s) = suite(backend, "pipeline_update").await else {
        return;
    };
    let events = history("acme");
    s.deliver(&events).await;
    // v2 renames Lead and adds Demo before Won.
    let mut v2 = stages();
    v2[0].name = "Inbound".into();
    v2.insert(
        2,
        ppb::Stage {
            id: "019a0000-0000-7000-8000-0000000000a5".into(),
            name: "Demo".into(),
            probability: 70,
            kind: StageKind::Open as i32,
            rotting_days: 0,
        },
    );
    let updated = |version: i64, stages: Vec<ppb::Stage>| {
        let pipeline = ppb::Pipeline {
            id: P.into(),
            name: "Sales".into(),
            stages,
            ..Default::default()
        };
        let p = ev::PipelineUpdated {
            pipeline: Some(pipeline),
            changed_fields: vec!["stages".into()],
            removed_stage_ids: vec![],
        };
        envelope("acme", P, version, T0 + 20 * D, &p)
    };
    s.deliver(&[updated(3, v2.clone())]).await;
    // A late v2 (the creation's stages under a newer-looking name) and the
    // creation republished: both older than v3, both ignored.
    let mut stale = events[0].clone();
    stale.event_id = uuid::Uuid::now_v7().to_string();
    s.deliver(&[updated(2, stages()), stale]).await;
    let f = funnel_of(&mut s, "acme").await;
    let names: Vec<_> = f.stages.iter().map(|s| s.stage_name.as_str()).collect();
    assert_eq!(names, ["Inbound", "Qualified", "Demo"]);
    assert_eq!((f.stages[0].entered, f.stages[2].entered), (4, 0));
    // v4 removes Demo again.
    s.deliver(&[updated(4, stages())]).await;
    let f = funnel_of(&mut s, "acme").await;
    let names: Vec<_> = f.stages.iter().map(|s| s.stage_name.as_str()).collect();
    assert_eq!(names, ["Lead", "Qualified"]);
    // A deleted pipeline is gone.
    let deleted = envelope(
        "acme",
        P,
        5,
        T0 + 30 * D,
        &ev::PipelineDeleted { pipeline_id: P.into() },
    );
    s.deliver(&[deleted]).await;
    let req = pb::GetFunnelRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        ..Default::default()
    };
    let err = s.client.get_funnel(authed(&token_of("acme"), req)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn a_deleted_deal_leaves_every_report_and_late_events_do_not_bring_it_back(backend: Backend) {
    let Some(mut s) = suite(backend, "deal_deleted").await else {
        return;
    };
    s.deliver(&history("acme")).await;
    let deleted = ev::DealDeleted {
        deal_id: D5.into(),
        pipeline_id: P.into(),
        stage_id: LEAD.into(),
    };
    s.deliver(&[envelope("acme", D5, 2, T0 + 12 * D, &deleted)]).await;
    // Late: the creation again under a new event id.
    let d5 = Snap::new(D5, "ann", money("EUR", 800, 0), LEAD, T0 + 8 * D, Some((2026, 2, 20)));
    assert_eq!(s.deliver_one(&created("acme", &d5, T0 + 8 * D)).await, Applied::Now);
    let f = funnel_of(&mut s, "acme").await;
    // Lead without d5: d1, d2, d3 entered; nobody is in it now.
    let lead = &f.stages[0];
    assert_eq!(
        (lead.entered, lead.advanced, lead.lost, lead.current_count),
        (3, 2, 1, 0)
    );
    assert!(lead.current_amount.is_empty());
}

async fn bad_input_is_rejected_naming_the_field(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_input").await else {
        return;
    };
    s.deliver(&history("acme")).await;
    let t = token_of("acme");
    let good = pb::GetFunnelRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + D),
        ..Default::default()
    };
    let cases = [
        (
            pb::GetFunnelRequest {
                pipeline_id: String::new(),
                ..good.clone()
            },
            "pipeline_id",
        ),
        (
            pb::GetFunnelRequest {
                pipeline_id: "nope".into(),
                ..good.clone()
            },
            "pipeline_id",
        ),
        (
            pb::GetFunnelRequest {
                period: None,
                ..good.clone()
            },
            "period",
        ),
        (
            pb::GetFunnelRequest {
                period: period(T0, T0),
                ..good.clone()
            },
            "period",
        ),
        (
            pb::GetFunnelRequest {
                period: period(T0 + D, T0),
                ..good.clone()
            },
            "period",
        ),
        (
            pb::GetFunnelRequest {
                owner_id: "a b".into(),
                ..good.clone()
            },
            "owner_id",
        ),
    ];
    for (req, field) in cases {
        let err = s.client.get_funnel(authed(&t, req)).await.unwrap_err();
        assert_bad_field(&err, field);
    }
    let req = pb::GetStageDurationsRequest::default();
    let err = s.client.get_stage_durations(authed(&t, req)).await.unwrap_err();
    assert_bad_field(&err, "pipeline_id");
    assert_bad_field(&err, "period");
    let req = pb::GetVelocityRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        lookback_days: -1,
    };
    assert_bad_field(
        &s.client.get_velocity(authed(&t, req)).await.unwrap_err(),
        "lookback_days",
    );
    let req = pb::GetForecastRequest {
        from: Some(Date {
            year: 2026,
            month: 3,
            day: 1,
        }),
        to: Some(Date {
            year: 2026,
            month: 2,
            day: 1,
        }),
        ..checks::forecast_request(1, 0)
    };
    assert_bad_field(&s.client.get_forecast(authed(&t, req)).await.unwrap_err(), "to");
    let req = pb::GetForecastRequest {
        from: Some(Date {
            year: 2026,
            month: 2,
            day: 30,
        }),
        ..checks::forecast_request(1, 0)
    };
    assert_bad_field(&s.client.get_forecast(authed(&t, req)).await.unwrap_err(), "from");
    let req = pb::GetOwnerPerformanceRequest {
        pipeline_id: P.into(),
        ..Default::default()
    };
    assert_bad_field(
        &s.client.get_owner_performance(authed(&t, req)).await.unwrap_err(),
        "period",
    );
}

async fn a_rebuild_needs_an_admin_and_a_reachable_pipeline_service(backend: Backend) {
    let Some(mut s) = suite(backend, "rebuild").await else {
        return;
    };
    s.deliver(&history("acme")).await;
    let req = pb::RebuildProjectionsRequest {};
    let err = s
        .client
        .rebuild_projections(authed(&token_of("acme"), req))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "the pipeline service is down: {err:?}");
    checks::funnel(&mut s, "acme").await; // a failed rebuild changes nothing
    let rep = token("acme", "ann", &["rep"]);
    let err = s.client.rebuild_projections(authed(&rep, req)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

async fn an_imported_history_gives_the_same_numbers_as_live_events(backend: Backend) {
    let Some(mut s) = suite(backend, "imported").await else {
        return;
    };
    s.deliver(&imported("acme")).await;
    checks::all(&mut s, "acme").await;
}

/// Each report reads an in-memory model of the pipeline that follows the
/// change log. A transaction that began first but commits last is still
/// seen, and so is a deletion.
async fn the_read_model_follows_every_commit_even_one_that_commits_late(backend: Backend) {
    let Some(mut s) = suite(backend, "read_model").await else {
        return;
    };
    s.deliver(&history("acme")).await;
    let in_lead = |f: pb::GetFunnelResponse| f.stages[0].current_count;
    // d5 is the one deal in Lead now.
    assert_eq!(in_lead(funnel_of(&mut s, "acme").await), 1);
    let d6 = Snap::new(D6, "ann", money("EUR", 100, 0), LEAD, T0 + 9 * D, None);
    let d7 = Snap::new(D7, "bob", money("EUR", 200, 0), LEAD, T0 + 9 * D, None);
    if backend == Backend::Postgres {
        // d6's transaction writes its change row first and commits last.
        let txn = s.db.begin().await.unwrap();
        Projector.handle(&txn, &created("acme", &d6, T0 + 9 * D)).await.unwrap();
        s.deliver(&[created("acme", &d7, T0 + 9 * D)]).await;
        assert_eq!(in_lead(funnel_of(&mut s, "acme").await), 2);
        txn.commit().await.unwrap();
    } else {
        s.deliver(&[created("acme", &d7, T0 + 9 * D)]).await;
        assert_eq!(in_lead(funnel_of(&mut s, "acme").await), 2);
        s.deliver(&[created("acme", &d6, T0 + 9 * D)]).await;
    }
    assert_eq!(in_lead(funnel_of(&mut s, "acme").await), 3);
    let deleted = ev::DealDeleted {
        deal_id: D6.into(),
        pipeline_id: P.into(),
        stage_id: LEAD.into(),
    };
    s.deliver(&[envelope("acme", D6, 2, T0 + 10 * D, &deleted)]).await;
    assert_eq!(in_lead(funnel_of(&mut s, "acme").await), 2);
}

/// A rebuild replays each deal at its current version with its whole
/// history; the live events of the same moves, arriving after it, change
/// nothing (each stage entry is stored once per deal, time and stage).
async fn live_events_a_rebuild_already_brought_count_once(backend: Backend) {
    let Some(mut s) = suite(backend, "rebuilt_then_live").await else {
        return;
    };
    let versions = [(D1, 3), (D2, 2), (D3, 3)];
    let mut rebuilt = imported("acme");
    for e in &mut rebuilt {
        if let Some((_, v)) = versions.iter().find(|(id, _)| *id == e.aggregate_id) {
            e.aggregate_version = *v;
        }
    }
    s.deliver(&rebuilt).await;
    // The pipeline's live events, late (the activities came with the rebuild).
    let live: Vec<_> = history("acme")
        .into_iter()
        .filter(|e| e.r#type.starts_with("pipeline."))
        .collect();
    s.deliver(&live).await;
    checks::all(&mut s, "acme").await;
}

crm_kit::backend_tests!(
    live_events_a_rebuild_already_brought_count_once,
    the_read_model_follows_every_commit_even_one_that_commits_late,
    an_imported_history_gives_the_same_numbers_as_live_events,
    duplicated_and_scrambled_events_give_the_same_numbers,
    events_applied_in_batches_give_the_same_numbers,
    a_tenant_never_sees_another_tenants_pipeline,
    a_newer_pipeline_version_replaces_the_stages_and_an_older_one_is_ignored,
    a_deleted_deal_leaves_every_report_and_late_events_do_not_bring_it_back,
    bad_input_is_rejected_naming_the_field,
    a_rebuild_needs_an_admin_and_a_reachable_pipeline_service,
);
