//! Two replicas of the pipeline service on one database, each with its own
//! memory: what one changes reaches the other's cached reads within the
//! documented bound (`crm_kit::cache::TTL`), its own reads at once, and a
//! write never relies on a stale cache (a stage removed through one
//! replica cannot be entered through the other, even at once).

use std::time::{Duration, Instant};

use crm_kit::{
    cache::TTL,
    testing::{Backend, authed, token},
};
use crm_proto::{
    common::v1::{self as common, FieldType, Visibility, field_value::Kind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use prost_types::FieldMask;
use tonic::{Code, transport::Channel};

use super::harness::suite;

/// How long past the bound a poll may still see the old state: the poll's
/// own step and a slow machine's scheduling.
const SLACK: Duration = Duration::from_millis(400);

/// Calls `check` until it says yes, and returns how long that took;
/// fails the test once the cache bound and the slack have passed.
async fn within_bound<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() <= TTL + SLACK,
            "{what}: still not seen {:?} after the change (bound {TTL:?})",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get_deal(client: &mut PipelineServiceClient<Channel>, token: &str, id: &str) -> Result<pb::Deal, Code> {
    client
        .get_deal(authed(token, pb::GetDealRequest { id: id.into() }))
        .await
        .map(|r| r.into_inner().deal.unwrap())
        .map_err(|s| s.code())
}

async fn a_tightened_visibility_reaches_the_other_replica_within_the_bound(backend: Backend) {
    let Some(mut s) = suite(backend, "replica_visibility").await else {
        return;
    };
    let (mut b, _server) = s.replica().await;
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Ann's deal", 100).await;
    let rob = token("acme", "rob", &["rep"]);
    // Both replicas have read (and cached) the TEAM default.
    assert!(get_deal(&mut s.pipeline, &rob, &d.id).await.is_ok());
    assert!(get_deal(&mut b, &rob, &d.id).await.is_ok());

    let owner_only = pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings {
            visibility: Visibility::Owner as i32,
            ..Default::default()
        }),
    };
    s.pipeline
        .update_tenant_settings(authed(&s.token, owner_only))
        .await
        .unwrap();
    let changed = Instant::now();
    // The replica that made the change reads it at once.
    assert_eq!(
        get_deal(&mut s.pipeline, &rob, &d.id).await.unwrap_err(),
        Code::NotFound
    );
    // The other within the bound, and from then on always.
    let took = within_bound("OWNER visibility on the other replica", || {
        let (b, rob, id) = (b.clone(), rob.clone(), d.id.clone());
        async move {
            let mut b = b;
            get_deal(&mut b, &rob, &id).await == Err(Code::NotFound)
        }
    })
    .await;
    assert!(changed.elapsed() >= took);
    for _ in 0..20 {
        assert_eq!(get_deal(&mut b, &rob, &d.id).await.unwrap_err(), Code::NotFound);
    }
    // The owner still reads it on both.
    let ann = token("acme", "ann", &["rep"]);
    assert!(get_deal(&mut b, &ann, &d.id).await.is_ok());
}

async fn a_stage_removed_through_one_replica_is_never_entered_through_the_other(backend: Backend) {
    let Some(mut s) = suite(backend, "replica_stages").await else {
        return;
    };
    let (mut b, _server) = s.replica().await;
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 100).await;
    let demo = p.stages[1].clone();
    // The other replica has the pipeline in memory, Demo included.
    let seen = b
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: p.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.pipeline.unwrap().stages.len(), 4);
    assert!(get_deal(&mut b, &s.token, &d.id).await.is_ok());

    let mut without_demo = p.stages.clone();
    without_demo.remove(1);
    let update = pb::UpdatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            id: p.id.clone(),
            stages: without_demo,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["stages".into()],
        }),
    };
    s.pipeline.update_pipeline(authed(&s.token, update)).await.unwrap();

    // At once, through the replica that still has Demo in memory: the move
    // reads the pipeline's version in its transaction and is refused.
    let into_demo = pb::MoveDealRequest {
        deal_id: d.id.clone(),
        stage_id: demo.id.clone(),
        etag: String::new(),
        lost_reason: String::new(),
    };
    let err = b.move_deal(authed(&s.token, into_demo)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("stage_id"), "{err:?}");
    let now = get_deal(&mut s.pipeline, &s.token, &d.id).await.unwrap();
    assert_eq!(now.stage_id, p.stages[0].id, "the deal stayed in Lead");

    // And its reads drop Demo within the bound.
    within_bound("the removed stage on the other replica", || {
        let (b, t, id) = (b.clone(), s.token.clone(), p.id.clone());
        async move {
            let mut b = b;
            let got = b.get_pipeline(authed(&t, pb::GetPipelineRequest { id })).await.unwrap();
            got.into_inner().pipeline.unwrap().stages.len() == 3
        }
    })
    .await;
}

async fn a_field_defined_through_one_replica_is_accepted_by_the_other_within_the_bound(backend: Backend) {
    let Some(mut s) = suite(backend, "replica_fields").await else {
        return;
    };
    let (b, _server) = s.replica().await;
    let p = s.sales_pipeline().await;
    let create = |token: &str| {
        let req = pb::CreateDealRequest {
            deal: Some(pb::Deal {
                pipeline_id: p.id.clone(),
                title: "Acme".into(),
                custom_fields: [(
                    "region".to_owned(),
                    common::FieldValue {
                        kind: Some(Kind::Text("emea".into())),
                    },
                )]
                .into(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        authed(token, req)
    };
    // The other replica knows no field "region" (and caches that).
    let mut b1 = b.clone();
    let err = b1.create_deal(create(&s.token)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    let define = pb::CreateFieldDefinitionRequest {
        definition: Some(common::FieldDefinition {
            key: "region".into(),
            label: "Region".into(),
            r#type: FieldType::Text as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    s.pipeline
        .create_field_definition(authed(&s.token, define))
        .await
        .unwrap();
    // At once on the replica that defined it.
    s.pipeline.create_deal(create(&s.token)).await.unwrap();
    // Within the bound on the other.
    within_bound("the new field on the other replica", || {
        let mut b = b.clone();
        let req = create(&s.token);
        async move { b.create_deal(req).await.is_ok() }
    })
    .await;
}

crm_kit::backend_tests!(
    a_tightened_visibility_reaches_the_other_replica_within_the_bound,
    a_stage_removed_through_one_replica_is_never_entered_through_the_other,
    a_field_defined_through_one_replica_is_accepted_by_the_other_within_the_bound
);
