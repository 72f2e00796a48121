//! Analytics in `crm up`: live moves reach the funnel through the
//! in-process bus, RebuildProjections rebuilds the same numbers from the
//! pipeline service's export after the projections were lost, and an
//! analytics service started on an empty database catches up by itself.

use std::time::Duration;

use crm_kit::testing::{Backend, TestDatabase, TestServer, authed, shared, token};
use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use sea_orm::ConnectionTrait;

use super::harness::{create_deal, move_to, sales_pipeline, up};

/// (stage name, entered, advanced, lost, current_count) per OPEN stage, and (won, lost).
type Shape = (Vec<(String, i64, i64, i64, i64)>, (i64, i64));

fn shape(f: &a::GetFunnelResponse) -> Shape {
    let stages = f
        .stages
        .iter()
        .map(|s| (s.stage_name.clone(), s.entered, s.advanced, s.lost, s.current_count))
        .collect();
    (stages, (f.won, f.lost))
}

pub(super) async fn funnel(
    client: &mut AnalyticsServiceClient<tonic::transport::Channel>,
    t: &str,
    pipeline_id: &str,
) -> Option<a::GetFunnelResponse> {
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let period = a::Period {
        from: Some(prost_types::Timestamp {
            seconds: now.seconds - 3600,
            nanos: 0,
        }),
        to: Some(prost_types::Timestamp {
            seconds: now.seconds + 3600,
            nanos: 0,
        }),
    };
    let req = a::GetFunnelRequest {
        pipeline_id: pipeline_id.into(),
        owner_id: String::new(),
        period: Some(period),
        ..Default::default()
    };
    client
        .get_funnel(authed(t, req))
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

/// Creates a deal per title in `pipeline_id`; their ids, in order.
async fn create_deals(
    pipeline: &mut PipelineServiceClient<tonic::transport::Channel>,
    t: &str,
    pipeline_id: &str,
    titles: &[&str],
) -> Vec<String> {
    let mut ids = Vec::new();
    for title in titles {
        let deal = pb::Deal {
            pipeline_id: pipeline_id.into(),
            title: (*title).into(),
            ..Default::default()
        };
        ids.push(create_deal(pipeline, t, deal).await.id);
    }
    ids
}

async fn live_moves_reach_the_funnel_and_a_rebuild_restores_it(backend: Backend) {
    let Some(suite) = up(backend, "analytics").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let mut analytics = AnalyticsServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &t).await;
    let ids = create_deals(&mut pipeline, &t, &p.id, &["A", "B", "C"]).await;
    let mv = |id: &str, stage: &str, reason: &str| pb::MoveDealRequest {
        deal_id: id.into(),
        stage_id: stage.into(),
        etag: String::new(),
        lost_reason: reason.into(),
    };
    pipeline
        .move_deal(authed(&t, mv(&ids[0], &p.stages[1].id, "")))
        .await
        .unwrap();
    pipeline
        .move_deal(authed(&t, mv(&ids[0], &p.stages[2].id, "")))
        .await
        .unwrap();
    pipeline
        .move_deal(authed(&t, mv(&ids[1], &p.stages[3].id, "budget")))
        .await
        .unwrap();

    // Worked by hand: Lead saw A, B, C enter; A advanced, B was lost, C is
    // still there. Proposal saw A enter and advance (to Won). One won, one lost.
    let expected: Shape = (
        vec![("Lead".into(), 3, 1, 1, 1), ("Proposal".into(), 1, 1, 0, 0)],
        (1, 1),
    );
    let mut got = None;
    for _ in 0..100 {
        got = funnel(&mut analytics, &t, &p.id).await.map(|f| shape(&f));
        if got.as_ref() == Some(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got, Some(expected.clone()), "live events reached the funnel");

    // The projections are lost; a rebuild from the pipeline's export restores
    // them. The running read model is told to reload, as a restarted process
    // would start from the (empty) tables.
    let db = crm_kit::db::connect(&suite.dbs.as_ref().expect("its own databases").3.url)
        .await
        .unwrap();
    for table in [
        "analytics_transitions",
        "analytics_deals",
        "analytics_stages",
        "analytics_pipelines",
        "analytics_changes",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
    }
    let reload = crm_analytics::projection::Touched {
        pipeline_id: p.id.clone(),
        scope: crm_analytics::entity::change::scope::ALL,
        deal_id: None,
    };
    crm_analytics::projection::log_changes(&db, &crm_kit::tenant::Tenant::of_row("acme"), vec![reload])
        .await
        .unwrap();
    assert!(
        funnel(&mut analytics, &t, &p.id).await.is_none(),
        "no projection, no pipeline"
    );
    let rebuilt = analytics
        .rebuild_projections(authed(&t, a::RebuildProjectionsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rebuilt.deals, rebuilt.transitions), (3, 6));
    let after = funnel(&mut analytics, &t, &p.id).await.map(|f| shape(&f));
    assert_eq!(after, Some(expected), "the rebuild gives the same numbers");
}

/// An analytics service started on an empty database beside a pipeline
/// service that already has deals: RabbitMQ will only bring what happens
/// from now on, so the tenant's first read catches up from the export.
async fn an_analytics_service_on_an_empty_database_catches_up_on_the_first_read(backend: Backend) {
    let Some(suite) = up(backend, "analytics_catch_up").await else {
        return;
    };
    let Some(fresh_db) = TestDatabase::create(backend, "analytics_fresh").await else {
        return;
    };
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;
    let ids = create_deals(&mut pipeline, &admin, &p.id, &["A", "B"]).await;
    move_to(&mut pipeline, &admin, &ids[0], &p.stages[1].id).await;
    // Reps see only their own from now on: a setting the new analytics
    // database never heard of as an event.
    let owner = pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings {
            visibility: crm_proto::common::v1::Visibility::Owner as i32,
            ..Default::default()
        }),
    };
    pipeline.update_tenant_settings(authed(&admin, owner)).await.unwrap();

    let conn = crm_kit::db::connect_and_migrate::<crm_analytics::migration::Migrator>(&fresh_db.url)
        .await
        .unwrap();
    assert!(crm_analytics::catch_up::mark_if_empty(&conn).await.unwrap());
    let config = crm_analytics::startup::Config {
        pipeline_url: suite.url.clone(),
        catch_up_if_empty: false,
    };
    let service = crm_analytics::startup::build(conn.clone(), shared(), config)
        .await
        .unwrap();
    let (server, _) = TestServer::start_service(service).await;
    let mut fresh = AnalyticsServiceClient::new(server.channel().await);
    // A rep's read is enough: the service calls the export as itself. The
    // setting came along: raj owns none of ann's deals, so sees nothing.
    let rep = token("acme", "raj", &["rep"]);
    let got = funnel(&mut fresh, &rep, &p.id).await.map(|f| shape(&f));
    let nothing: Shape = (
        vec![("Lead".into(), 0, 0, 0, 0), ("Proposal".into(), 0, 0, 0, 0)],
        (0, 0),
    );
    assert_eq!(got, Some(nothing), "caught up, with the tenant's owner visibility");
    // By hand, for the admin: Lead saw A and B enter, A advanced, B is still
    // there; Proposal saw A enter and holds it.
    let got = funnel(&mut fresh, &admin, &p.id).await.map(|f| shape(&f));
    let expected: Shape = (
        vec![("Lead".into(), 2, 1, 0, 1), ("Proposal".into(), 1, 0, 0, 1)],
        (0, 0),
    );
    assert_eq!(got, Some(expected), "caught up on the first read");
    // Started again, the database is no longer empty: nothing is marked.
    assert!(!crm_analytics::catch_up::mark_if_empty(&conn).await.unwrap());
}

crm_kit::backend_tests!(
    live_moves_reach_the_funnel_and_a_rebuild_restores_it,
    an_analytics_service_on_an_empty_database_catches_up_on_the_first_read,
);
