//! Bad input gets INVALID_ARGUMENT naming the field (or NOT_FOUND for an
//! unknown parent), and writes nothing.

use crm_kit::testing::{Backend, authed};
use crm_proto::{
    common::v1::{Money, StageKind},
    pipeline::v1 as pb,
};
use tonic::Code;

use super::harness::{assert_bad_field, eur, stage, suite};

fn deal(pipeline_id: &str, title: &str, amount: Option<Money>) -> pb::CreateDealRequest {
    pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: pipeline_id.into(),
            title: title.into(),
            amount,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn each_bad_deal_field_is_named_and_nothing_is_written(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_deal_input").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let money = |code: &str, units, nanos| {
        Some(Money {
            currency_code: code.into(),
            units,
            nanos,
        })
    };
    let cases = [
        (deal(&p.id, "", None), "deal.title"),
        (deal(&p.id, "   ", None), "deal.title"),
        (deal(&p.id, &"x".repeat(201), None), "deal.title"),
        (deal(&p.id, "T", money("EUR", -1, 0)), "deal.amount"),
        (deal(&p.id, "T", money("XYZ", 1, 0)), "deal.amount.currency_code"),
        (deal(&p.id, "T", money("EUR", 1, 1)), "deal.amount.nanos"),
        (deal("not-an-id", "T", eur(1)), "deal.pipeline_id"),
        (deal("", "T", eur(1)), "deal.pipeline_id"),
    ];
    for (req, field) in cases {
        let err = s.pipeline.create_deal(authed(&s.token, req)).await.unwrap_err();
        assert_bad_field(&err, field);
    }
    let mut other_stage = deal(&p.id, "T", None);
    let other = s.sales_pipeline().await;
    other_stage.deal.as_mut().unwrap().stage_id = other.stages[0].id.clone();
    assert_bad_field(
        &s.pipeline.create_deal(authed(&s.token, other_stage)).await.unwrap_err(),
        "deal.stage_id",
    );

    let unknown = deal(&crm_kit::validate::new_id().to_string(), "T", None);
    assert_eq!(
        s.pipeline
            .create_deal(authed(&s.token, unknown))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let list = s
        .pipeline
        .list_deals(authed(&s.token, pb::ListDealsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(list.deals.is_empty());
    assert!(!s.event_types().await.iter().any(|t| t.starts_with("pipeline.deal")));
}

async fn bad_pipeline_fields_are_named(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_pipeline_input").await else {
        return;
    };
    let create = |name: &str, stages: Vec<pb::Stage>| pb::CreatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            name: name.into(),
            stages,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let ok_stages = super::harness::sales_stages();
    let mut over = ok_stages.clone();
    over[0].probability = 101;
    let mut under = ok_stages.clone();
    under[1].probability = -1;
    let mut rotting = ok_stages.clone();
    rotting[0].rotting_days = -3;
    let cases = [
        (create("", ok_stages.clone()), "pipeline.name"),
        (create(&"p".repeat(101), ok_stages.clone()), "pipeline.name"),
        (create("P", over), "pipeline.stages[0].probability"),
        (create("P", under), "pipeline.stages[1].probability"),
        (create("P", rotting), "pipeline.stages[0].rotting_days"),
        (
            create(
                "P",
                vec![stage("W", StageKind::Won, 100), stage("L", StageKind::Lost, 0)],
            ),
            "pipeline.stages",
        ),
    ];
    for (req, field) in cases {
        let err = s.pipeline.create_pipeline(authed(&s.token, req)).await.unwrap_err();
        assert_bad_field(&err, field);
    }
    assert!(s.event_types().await.is_empty());
}

async fn moves_to_a_stage_of_another_pipeline_or_a_malformed_id_are_rejected(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_moves").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let other = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 1).await;
    assert_bad_field(&s.move_to(&d, &other.stages[1].id, "").await.unwrap_err(), "stage_id");
    assert_bad_field(&s.move_to(&d, "stage-1", "").await.unwrap_err(), "stage_id");
    let req = pb::MoveDealRequest {
        deal_id: "nope".into(),
        stage_id: p.stages[1].id.clone(),
        etag: String::new(),
        lost_reason: String::new(),
    };
    assert_bad_field(
        &s.pipeline.move_deal(authed(&s.token, req)).await.unwrap_err(),
        "deal_id",
    );
    let req = pb::MoveDealRequest {
        deal_id: d.id.clone(),
        stage_id: p.stages[1].id.clone(),
        etag: "garbage".into(),
        lost_reason: String::new(),
    };
    assert_bad_field(&s.pipeline.move_deal(authed(&s.token, req)).await.unwrap_err(), "etag");
    let now = s
        .pipeline
        .get_deal(authed(&s.token, pb::GetDealRequest { id: d.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(now.etag, d.etag, "unchanged");
}

async fn an_oversized_page_or_a_tampered_token_is_rejected(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_paging").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    for i in 0..3 {
        s.deal(&p, &format!("D{i}"), 1).await;
    }
    let big = pb::ListDealsRequest {
        page_size: 501,
        ..Default::default()
    };
    assert_bad_field(
        &s.pipeline.list_deals(authed(&s.token, big)).await.unwrap_err(),
        "page_size",
    );
    let first = s
        .pipeline
        .list_deals(authed(
            &s.token,
            pb::ListDealsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut token = first.next_page_token.into_bytes();
    assert!(!token.is_empty());
    token[3] = if token[3] == b'A' { b'B' } else { b'A' };
    let tampered = pb::ListDealsRequest {
        page_size: 1,
        page_token: String::from_utf8(token).unwrap(),
        ..Default::default()
    };
    let err = s.pipeline.list_deals(authed(&s.token, tampered)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{}", err.message());
}

crm_kit::backend_tests!(
    each_bad_deal_field_is_named_and_nothing_is_written,
    bad_pipeline_fields_are_named,
    moves_to_a_stage_of_another_pipeline_or_a_malformed_id_are_rejected,
    an_oversized_page_or_a_tampered_token_is_rejected,
);
