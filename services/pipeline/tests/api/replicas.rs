//! Two replicas of the pipeline service on one database, each with its own
//! memory: what one changes, the other sees at once, although both have
//! the old copy cached (each deal query reads the versions of what the
//! service caches: settings, definitions, the pipeline).

use crm_kit::testing::{Backend, authed, token};
use crm_proto::{
    common::v1::{self as common, FieldType, Visibility, field_value::Kind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use prost_types::FieldMask;
use tonic::{Code, transport::Channel};

use super::harness::suite;

async fn get_deal(client: &mut PipelineServiceClient<Channel>, token: &str, id: &str) -> Result<pb::Deal, Code> {
    client
        .get_deal(authed(token, pb::GetDealRequest { id: id.into() }))
        .await
        .map(|r| r.into_inner().deal.unwrap())
        .map_err(|s| s.code())
}

async fn a_tightened_visibility_is_enforced_by_the_other_replica_at_once(backend: Backend) {
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
    // Both replicas enforce it at once, and from then on always.
    assert_eq!(
        get_deal(&mut s.pipeline, &rob, &d.id).await.unwrap_err(),
        Code::NotFound
    );
    let list = |t: &str| {
        authed(
            t,
            pb::ListDealsRequest {
                pipeline_id: p.id.clone(),
                ..Default::default()
            },
        )
    };
    for _ in 0..20 {
        assert_eq!(get_deal(&mut b, &rob, &d.id).await.unwrap_err(), Code::NotFound);
    }
    assert!(b.list_deals(list(&rob)).await.unwrap().into_inner().deals.is_empty());
    // The owner still reads it on both.
    let ann = token("acme", "ann", &["rep"]);
    assert!(get_deal(&mut b, &ann, &d.id).await.is_ok());
    assert_eq!(b.list_deals(list(&ann)).await.unwrap().into_inner().deals.len(), 1);
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

    // And its reads show the pipeline without Demo at once.
    let got = b
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: p.id.clone() }))
        .await
        .unwrap();
    assert_eq!(got.into_inner().pipeline.unwrap().stages.len(), 3);
}

async fn a_field_defined_or_archived_through_one_replica_counts_on_the_other_at_once(backend: Backend) {
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
    // At once on both.
    s.pipeline.create_deal(create(&s.token)).await.unwrap();
    let on_b = b1
        .create_deal(create(&s.token))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(on_b.custom_fields.len(), 1);
    // Archived through the first: the other hides the value and refuses it at once.
    let archive = pb::ArchiveFieldDefinitionRequest {
        key: "region".into(),
        etag: "v1".into(),
    };
    s.pipeline
        .archive_field_definition(authed(&s.token, archive))
        .await
        .unwrap();
    let read = b1
        .get_deal(authed(&s.token, pb::GetDealRequest { id: on_b.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert!(read.custom_fields.is_empty(), "{read:?}");
    let err = b1.create_deal(create(&s.token)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
}

crm_kit::backend_tests!(
    a_tightened_visibility_is_enforced_by_the_other_replica_at_once,
    a_stage_removed_through_one_replica_is_never_entered_through_the_other,
    a_field_defined_or_archived_through_one_replica_counts_on_the_other_at_once
);
