//! Another tenant's pipelines and deals read as NOT_FOUND, and its calls
//! change nothing.

use crm_kit::testing::{Backend, authed, token};
use crm_proto::pipeline::v1 as pb;
use prost_types::FieldMask;
use tonic::Code;

use super::harness::suite;

async fn another_tenant_can_neither_read_nor_change_a_deal(backend: Backend) {
    let Some(mut s) = suite(backend, "cross_tenant").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme secret", 100).await;
    let other = token("globex", "gus", &["admin"]);
    let pl = &mut s.pipeline;

    let get = pl
        .get_deal(authed(&other, pb::GetDealRequest { id: d.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    let pget = pl
        .get_pipeline(authed(&other, pb::GetPipelineRequest { id: p.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(pget.code(), Code::NotFound);
    let mv = pb::MoveDealRequest {
        deal_id: d.id.clone(),
        stage_id: p.stages[1].id.clone(),
        etag: String::new(),
        lost_reason: String::new(),
    };
    assert_eq!(
        pl.move_deal(authed(&other, mv)).await.unwrap_err().code(),
        Code::NotFound
    );
    let upd = pb::UpdateDealRequest {
        deal: Some(pb::Deal {
            id: d.id.clone(),
            title: "pwned".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["title".into()],
        }),
    };
    assert_eq!(
        pl.update_deal(authed(&other, upd)).await.unwrap_err().code(),
        Code::NotFound
    );
    let del = pb::DeleteDealRequest {
        id: d.id.clone(),
        etag: String::new(),
    };
    assert_eq!(
        pl.delete_deal(authed(&other, del)).await.unwrap_err().code(),
        Code::NotFound
    );
    let board = pb::GetBoardRequest {
        pipeline_id: p.id.clone(),
        ..Default::default()
    };
    assert_eq!(
        pl.get_board(authed(&other, board)).await.unwrap_err().code(),
        Code::NotFound
    );
    let hist = pb::ListDealHistoryRequest {
        deal_id: d.id.clone(),
        ..Default::default()
    };
    assert_eq!(
        pl.list_deal_history(authed(&other, hist)).await.unwrap_err().code(),
        Code::NotFound
    );
    let create = pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: p.id.clone(),
            title: "sneaky".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_eq!(
        pl.create_deal(authed(&other, create)).await.unwrap_err().code(),
        Code::NotFound
    );
    let theirs = pl
        .list_deals(authed(&other, pb::ListDealsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.deals.is_empty());
    let theirs = pl
        .list_pipelines(authed(&other, pb::ListPipelinesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.pipelines.is_empty());

    let ours = pl
        .get_deal(authed(&s.token, pb::GetDealRequest { id: d.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(ours, d, "unchanged");
}

async fn a_call_without_a_valid_token_is_unauthenticated(backend: Backend) {
    let Some(mut s) = suite(backend, "no_token").await else {
        return;
    };
    let bare = s
        .pipeline
        .list_pipelines(pb::ListPipelinesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bare.code(), Code::Unauthenticated);
    let forged =
        crm_kit::auth::TokenVerifier::hs256(b"some-other-secret-0123456789abcdef").mint("acme", "ann", &["admin"], 60);
    let err = s
        .pipeline
        .list_pipelines(authed(&forged, pb::ListPipelinesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

crm_kit::backend_tests!(
    another_tenant_can_neither_read_nor_change_a_deal,
    a_call_without_a_valid_token_is_unauthenticated
);
