//! ListDeals filtered on custom values (each kind, against a count made
//! here), by contact and company; a contact's purchase history; and a deal
//! with custom values as the gateway's JSON shows it.

use crm_kit::testing::{Backend, authed};
use crm_proto::{
    common::v1::{self as common, FieldType, field_value::Kind},
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    pipeline::v1 as pb,
};
use serde_json::json;

use super::{Fields, field, option, select, text, value, values};
use crate::{gateway::http, harness::up};

/// What the test gave deal `i`.
struct Given {
    id: String,
    region: &'static str,
    tier: &'static str,
    strategic: bool,
    products: Vec<&'static str>,
    score: f64,
    budget: i64,
    kickoff: (i32, i32, i32),
}

fn eq(key: &str, v: common::FieldValue) -> common::FieldFilter {
    common::FieldFilter {
        key: key.into(),
        equals: Some(v),
        ..Default::default()
    }
}

fn range(key: &str, min: Option<common::FieldValue>, max: Option<common::FieldValue>) -> common::FieldFilter {
    common::FieldFilter {
        key: key.into(),
        min,
        max,
        ..Default::default()
    }
}

fn eur(units: i64) -> common::FieldValue {
    value(Kind::Money(common::Money {
        currency_code: "EUR".into(),
        units,
        nanos: 0,
    }))
}

fn date((year, month, day): (i32, i32, i32)) -> common::FieldValue {
    value(Kind::Date(common::Date { year, month, day }))
}

async fn filters_of_each_kind_return_exactly_the_matching_deals(backend: Backend) {
    let Some(suite) = up(backend, "field_filters").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    f.define(field("region", FieldType::Text)).await.unwrap();
    f.define(select("tier", FieldType::SingleSelect, &["Gold", "Silver", "Bronze"]))
        .await
        .unwrap();
    f.define(field("strategic", FieldType::Boolean)).await.unwrap();
    f.define(select("products", FieldType::MultiSelect, &["CRM", "ERP", "BI"]))
        .await
        .unwrap();
    f.define(common::FieldDefinition {
        decimals: 1,
        ..field("score", FieldType::Number)
    })
    .await
    .unwrap();
    f.define(common::FieldDefinition {
        currency_code: "EUR".into(),
        ..field("budget", FieldType::Money)
    })
    .await
    .unwrap();
    f.define(field("kickoff", FieldType::Date)).await.unwrap();
    let (regions, tiers) = (["emea", "apac", "amer"], ["gold", "silver", "bronze"]);
    let all_products = ["crm", "erp", "bi"];
    let mut given = Vec::new();
    for i in 0..18_usize {
        let products: Vec<&str> = all_products
            .iter()
            .enumerate()
            .filter(|(j, _)| (i >> j) & 1 == 1)
            .map(|(_, p)| *p)
            .collect();
        let g = Given {
            id: String::new(),
            region: regions[i % 3],
            tier: tiers[(i / 3) % 3],
            strategic: i % 4 == 0,
            products,
            score: (i * 7 % 50) as f64 / 2.0,
            budget: (i as i64 * 37) % 200,
            kickoff: (2027, 1 + (i % 12) as i32, 1 + (i * 5 % 28) as i32),
        };
        let v = values(&[
            ("region", text(g.region)),
            ("tier", option(g.tier)),
            ("strategic", value(Kind::Boolean(g.strategic))),
            (
                "products",
                value(Kind::Options(common::OptionIds {
                    ids: g.products.iter().map(|p| (*p).to_owned()).collect(),
                })),
            ),
            ("score", value(Kind::Number(g.score))),
            ("budget", eur(g.budget)),
            ("kickoff", date(g.kickoff)),
        ]);
        let id = f.deal(&format!("Deal {i}"), v).await.unwrap().id;
        given.push(Given { id, ..g });
    }
    let expect = |keep: &dyn Fn(&Given) -> bool| -> Vec<String> {
        given.iter().filter(|g| keep(g)).map(|g| g.id.clone()).collect()
    };
    let cases: Vec<(Vec<common::FieldFilter>, Vec<String>)> = vec![
        (vec![eq("region", text("apac"))], expect(&|g| g.region == "apac")),
        (vec![eq("tier", option("gold"))], expect(&|g| g.tier == "gold")),
        (
            vec![eq("strategic", value(Kind::Boolean(true)))],
            expect(&|g| g.strategic),
        ),
        (
            vec![common::FieldFilter {
                key: "tier".into(),
                any_of: vec!["silver".into(), "bronze".into()],
                ..Default::default()
            }],
            expect(&|g| g.tier != "gold"),
        ),
        (
            vec![common::FieldFilter {
                key: "products".into(),
                any_of: vec!["erp".into(), "bi".into()],
                ..Default::default()
            }],
            expect(&|g| g.products.contains(&"erp") || g.products.contains(&"bi")),
        ),
        (
            vec![range(
                "score",
                Some(value(Kind::Number(5.0))),
                Some(value(Kind::Number(12.5))),
            )],
            expect(&|g| (5.0..=12.5).contains(&g.score)),
        ),
        (
            vec![range("budget", Some(eur(100)), None)],
            expect(&|g| g.budget >= 100),
        ),
        (
            vec![range("kickoff", Some(date((2027, 3, 1))), Some(date((2027, 6, 30))))],
            expect(&|g| ((2027, 3, 1)..=(2027, 6, 30)).contains(&g.kickoff)),
        ),
        (
            vec![eq("region", text("emea")), eq("strategic", value(Kind::Boolean(true)))],
            expect(&|g| g.region == "emea" && g.strategic),
        ),
    ];
    for (filters, expected) in cases {
        let found = f
            .list(filters.clone())
            .await
            .unwrap_or_else(|e| panic!("{filters:?}: {e:?}"));
        assert!(
            !expected.is_empty() && expected.len() < given.len(),
            "a case that tells: {filters:?}"
        );
        assert_eq!(found, expected, "{filters:?}");
    }
    // Filters that make no sense name the filter.
    let bad = [
        (
            common::FieldFilter {
                key: "nope".into(),
                equals: Some(text("x")),
                ..Default::default()
            },
            "field_filters[0].key",
        ),
        (range("region", Some(text("a")), None), "field_filters[0]"),
        (eq("tier", option("platinum")), "field_filters[0].equals"),
        (eq("products", option("crm")), "field_filters[0].equals"),
        (
            common::FieldFilter {
                key: "tier".into(),
                ..Default::default()
            },
            "field_filters[0]",
        ),
    ];
    for (filter, named) in bad {
        crm_kit::testing::assert_bad_field(&f.list(vec![filter]).await.unwrap_err(), named);
    }
}

async fn a_contacts_purchase_history_sums_what_it_bought(backend: Backend) {
    let Some(suite) = up(backend, "field_purchases").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let mut contacts = ContactsServiceClient::new(suite.channel.clone());
    let new_contact = |email: &str| cpb::CreateContactRequest {
        contact: Some(cpb::Contact {
            first_name: "Dana".into(),
            emails: vec![email.into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let dana = contacts
        .create_contact(authed(&f.t, new_contact("dana@acme.example")))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let fox = contacts
        .create_contact(authed(&f.t, new_contact("fox@acme.example")))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let stages: Vec<(String, i32)> = f.pipeline.stages.iter().map(|s| (s.id.clone(), s.kind)).collect();
    let stage = |kind: common::StageKind| stages.iter().find(|s| s.1 == kind as i32).unwrap().0.clone();
    let (won, lost) = (stage(common::StageKind::Won), stage(common::StageKind::Lost));
    let deal = |contact: &str, units: i64, currency: &str| pb::Deal {
        pipeline_id: f.pipeline.id.clone(),
        title: format!("{units} {currency}"),
        contact_id: contact.into(),
        amount: Some(common::Money {
            currency_code: currency.into(),
            units,
            nanos: 0,
        }),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for (contact, units, currency) in [
        (&dana.id, 100, "EUR"),
        (&dana.id, 250, "EUR"),
        (&dana.id, 80, "USD"),
        (&dana.id, 40, "EUR"),
        (&dana.id, 999, "EUR"),
        (&fox.id, 5_000, "EUR"),
    ] {
        let d = deal(contact, units, currency);
        ids.push(crate::harness::create_deal(&mut f.client, &f.t, d).await.id);
    }
    let mut times = Vec::new();
    for id in &ids[..3] {
        crate::harness::move_to(&mut f.client, &f.t, id, &won).await;
        times.push(f.get(id).await.closed_at.unwrap());
    }
    let lose = pb::MoveDealRequest {
        deal_id: ids[4].clone(),
        stage_id: lost,
        etag: String::new(),
        lost_reason: "budget".into(),
    };
    f.client.move_deal(authed(&f.t, lose)).await.unwrap();

    let req = pb::GetPurchaseSummaryRequest {
        contact_id: dana.id.clone(),
        company_id: String::new(),
    };
    let s = f
        .client
        .get_purchase_summary(authed(&f.t, req))
        .await
        .unwrap()
        .into_inner();
    let totals = |m: &[common::Money]| m.iter().map(|m| (m.currency_code.clone(), m.units)).collect::<Vec<_>>();
    assert_eq!((s.won_count, s.open_count, s.lost_count), (3, 1, 1));
    assert_eq!(totals(&s.won_total), [("EUR".to_owned(), 350), ("USD".to_owned(), 80)]);
    assert_eq!(totals(&s.open_total), [("EUR".to_owned(), 40)]);
    assert_eq!(
        (s.first_purchase_time, s.last_purchase_time),
        (Some(times[0]), Some(times[2]))
    );
    // ListDeals by contact: Dana's five, not Fox's.
    let req = pb::ListDealsRequest {
        contact_id: dana.id.clone(),
        page_size: 50,
        ..Default::default()
    };
    let listed: Vec<String> = f
        .client
        .list_deals(authed(&f.t, req))
        .await
        .unwrap()
        .into_inner()
        .deals
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, ids[..5]);
}

async fn custom_values_read_as_typed_json_through_the_gateway(backend: Backend) {
    let Some(suite) = up(backend, "field_json").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    f.define(select("lead_source", FieldType::SingleSelect, &["Web", "Referral"]))
        .await
        .unwrap();
    f.define(common::FieldDefinition {
        currency_code: "EUR".into(),
        ..field("budget", FieldType::Money)
    })
    .await
    .unwrap();
    f.define(field("kickoff", FieldType::Date)).await.unwrap();
    let body = json!({"deal": {
        "pipelineId": f.pipeline.id,
        "title": "Acme renewal",
        "customFields": {
            "lead_source": {"option": "web"},
            "budget": {"money": {"currencyCode": "EUR", "units": "12000"}},
            "kickoff": {"date": {"year": 2027, "month": 3, "day": 1}}
        }
    }});
    let path = "/crm.pipeline.v1.PipelineService/CreateDeal";
    let (status, reply) = http(
        &suite.url,
        "POST",
        path,
        Some(&f.t),
        "application/json",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    println!(
        "a deal with custom values, as the gateway returns it:\n{}",
        serde_json::to_string_pretty(&reply).unwrap()
    );
    let custom = &reply["deal"]["customFields"];
    assert_eq!(custom["lead_source"], json!({"option": "web"}));
    assert_eq!(custom["budget"]["money"]["units"], json!("12000"));
    assert_eq!(custom["kickoff"], json!({"date": {"year": 2027, "month": 3, "day": 1}}));
    let bad = json!({"deal": {"pipelineId": f.pipeline.id, "title": "X", "customFields": {"lead_source": {"option": "fax"}}}});
    let (status, e) = http(
        &suite.url,
        "POST",
        path,
        Some(&f.t),
        "application/json",
        bad.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(e.to_string().contains("deal.custom_fields.lead_source"), "{e}");
}

crm_kit::backend_tests!(
    filters_of_each_kind_return_exactly_the_matching_deals,
    a_contacts_purchase_history_sums_what_it_bought,
    custom_values_read_as_typed_json_through_the_gateway,
);
