//! Deals: create, the contacts check, idempotency, moves and history,
//! updates, lists, and atomicity of a change and its events.

use crm_kit::testing::{Backend, authed};
use crm_proto::{
    common::v1::{Date, DealStatus},
    pipeline::v1 as pb,
};
use prost_types::FieldMask;
use tonic::Code;

use super::harness::{assert_bad_field, eur, suite};

async fn a_new_deal_lands_in_the_first_open_stage_owned_by_its_creator(backend: Backend) {
    let Some(mut s) = suite(backend, "deal_defaults").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme renewal", 1200).await;
    assert_eq!(d.stage_id, p.stages[0].id);
    assert_eq!(d.status, DealStatus::Open as i32);
    assert_eq!((d.owner_id.as_str(), d.probability), ("ann", 10));
    assert_eq!(d.amount, eur(1200));
    assert!(d.closed_at.is_none() && d.stage_entered_at.is_some());
    let history = s
        .pipeline
        .list_deal_history(authed(
            &s.token,
            pb::ListDealHistoryRequest {
                deal_id: d.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.transitions.len(), 1);
    assert_eq!(history.transitions[0].from_stage_id, "");
}

async fn the_same_request_id_twice_creates_one_deal(backend: Backend) {
    let Some(mut s) = suite(backend, "idempotent_deal").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let req = pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: p.id.clone(),
            title: "Once".into(),
            ..Default::default()
        }),
        request_id: "retry-1".into(),
    };
    let first = s
        .pipeline
        .create_deal(authed(&s.token, req.clone()))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    let second = s
        .pipeline
        .create_deal(authed(&s.token, req.clone()))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(first.id, second.id);
    let list = s
        .pipeline
        .list_deals(authed(&s.token, pb::ListDealsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.deals.len(), 1);
    let created = s
        .event_types()
        .await
        .iter()
        .filter(|t| *t == "pipeline.deal.created")
        .count();
    assert_eq!(created, 1);

    let mut other = req;
    other.deal.as_mut().unwrap().title = "Another".into();
    let err = s.pipeline.create_deal(authed(&s.token, other)).await.unwrap_err();
    assert_bad_field(&err, "request_id");
}

async fn a_deal_naming_an_unknown_contact_is_a_failed_precondition(backend: Backend) {
    let Some(mut s) = suite(backend, "deal_unknown_contact").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let contact = s.contact("dana@example.com").await;
    let make = |contact_id: &str| pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: p.id.clone(),
            title: "T".into(),
            contact_id: contact_id.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let unknown = crm_kit::validate::new_id().to_string();
    let err = s
        .pipeline
        .create_deal(authed(&s.token, make(&unknown)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("deal.contact_id"), "{}", err.message());
    assert!(!s.event_types().await.contains(&"pipeline.deal.created".to_owned()));

    let ok = s
        .pipeline
        .create_deal(authed(&s.token, make(&contact.id)))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(ok.contact_id, contact.id);
}

async fn an_update_changes_only_the_masked_fields(backend: Backend) {
    let Some(mut s) = suite(backend, "update_mask").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 100).await;
    let upd = pb::UpdateDealRequest {
        deal: Some(pb::Deal {
            id: d.id.clone(),
            title: "ignored".into(),
            amount: eur(250),
            expected_close_date: Some(Date {
                year: 2027,
                month: 1,
                day: 31,
            }),
            etag: d.etag.clone(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["amount".into(), "expected_close_date".into()],
        }),
    };
    let after = s
        .pipeline
        .update_deal(authed(&s.token, upd))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!((after.title.as_str(), after.amount.clone()), ("Acme", eur(250)));
    assert_eq!(
        after.expected_close_date,
        Some(Date {
            year: 2027,
            month: 1,
            day: 31
        })
    );
    let last = s.events().await.pop().unwrap();
    assert_eq!(
        (last.r#type.as_str(), last.aggregate_version),
        ("pipeline.deal.updated", 2)
    );
}

async fn deals_filter_by_stage_status_and_close_date_and_page(backend: Backend) {
    let Some(mut s) = suite(backend, "list_deals").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    for i in 0..5 {
        let deal = pb::Deal {
            pipeline_id: p.id.clone(),
            title: format!("Deal {i}"),
            expected_close_date: Some(Date {
                year: 2027,
                month: i + 1,
                day: 1,
            }),
            ..Default::default()
        };
        s.pipeline
            .create_deal(authed(
                &s.token,
                pb::CreateDealRequest {
                    deal: Some(deal),
                    request_id: String::new(),
                },
            ))
            .await
            .unwrap();
    }
    let all = s
        .pipeline
        .list_deals(authed(&s.token, pb::ListDealsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .deals;
    s.move_to(&all[0], &p.stages[2].id, "").await.unwrap();

    let won = pb::ListDealsRequest {
        status: DealStatus::Won as i32,
        ..Default::default()
    };
    let won = s
        .pipeline
        .list_deals(authed(&s.token, won))
        .await
        .unwrap()
        .into_inner()
        .deals;
    assert_eq!(won.iter().map(|d| d.title.as_str()).collect::<Vec<_>>(), ["Deal 0"]);

    let range = pb::ListDealsRequest {
        expected_close_from: Some(Date {
            year: 2027,
            month: 2,
            day: 1,
        }),
        expected_close_to: Some(Date {
            year: 2027,
            month: 3,
            day: 1,
        }),
        stage_id: p.stages[0].id.clone(),
        ..Default::default()
    };
    let in_range = s
        .pipeline
        .list_deals(authed(&s.token, range))
        .await
        .unwrap()
        .into_inner()
        .deals;
    assert_eq!(
        in_range.iter().map(|d| d.title.as_str()).collect::<Vec<_>>(),
        ["Deal 1", "Deal 2"]
    );

    let first = s
        .pipeline
        .list_deals(authed(
            &s.token,
            pb::ListDealsRequest {
                page_size: 2,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.deals.len(), 2);
    let mut titles: Vec<String> = first.deals.iter().map(|d| d.title.clone()).collect();
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let next = pb::ListDealsRequest {
            page_size: 2,
            page_token: token,
            ..Default::default()
        };
        let page = s
            .pipeline
            .list_deals(authed(&s.token, next))
            .await
            .unwrap()
            .into_inner();
        titles.extend(page.deals.iter().map(|d| d.title.clone()));
        token = page.next_page_token;
    }
    assert_eq!(titles, ["Deal 0", "Deal 1", "Deal 2", "Deal 3", "Deal 4"]);
}

crm_kit::backend_tests!(
    a_new_deal_lands_in_the_first_open_stage_owned_by_its_creator,
    the_same_request_id_twice_creates_one_deal,
    a_deal_naming_an_unknown_contact_is_a_failed_precondition,
    an_update_changes_only_the_masked_fields,
    deals_filter_by_stage_status_and_close_date_and_page,
);
