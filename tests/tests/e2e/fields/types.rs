//! Every field type's checks: good values round-trip, each bad one is
//! INVALID_ARGUMENT naming `deal.custom_fields.<key>` and writes nothing;
//! required fields and defaults; the 64 KiB bound.

use crm_kit::testing::{Backend, assert_bad_field};
use crm_proto::common::v1::{self as common, FieldType, field_value::Kind};
use tonic::Code;

use super::{Fields, field, option, select, text, value, values};
use crate::harness::up;

fn money(code: &str, units: i64, nanos: i32) -> common::FieldValue {
    value(Kind::Money(common::Money {
        currency_code: code.into(),
        units,
        nanos,
    }))
}

fn date(year: i32, month: i32, day: i32) -> common::FieldValue {
    value(Kind::Date(common::Date { year, month, day }))
}

fn options(ids: &[&str]) -> common::FieldValue {
    value(Kind::Options(common::OptionIds {
        ids: ids.iter().map(|i| (*i).to_owned()).collect(),
    }))
}

/// One field of every type.
fn every_type() -> Vec<common::FieldDefinition> {
    vec![
        common::FieldDefinition {
            max_length: 10,
            ..field("code", FieldType::Text)
        },
        field("notes", FieldType::LongText),
        common::FieldDefinition {
            min: Some(0.0),
            max: Some(100.0),
            decimals: 1,
            ..field("score", FieldType::Number)
        },
        common::FieldDefinition {
            currency_code: "EUR".into(),
            ..field("budget", FieldType::Money)
        },
        field("kickoff", FieldType::Date),
        field("signed_at", FieldType::Datetime),
        field("strategic", FieldType::Boolean),
        select("tier", FieldType::SingleSelect, &["Gold", "Silver"]),
        select("products", FieldType::MultiSelect, &["CRM", "ERP", "BI"]),
        field("champion", FieldType::User),
        field("billing_email", FieldType::Email),
        field("website", FieldType::Url),
        field("hotline", FieldType::Phone),
    ]
}

async fn every_type_round_trips_and_each_bad_value_names_its_field(backend: Backend) {
    let Some(suite) = up(backend, "field_types").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    for d in every_type() {
        f.define(d).await.unwrap();
    }
    let good = values(&[
        ("code", text("A-17")),
        ("notes", text("first call\nwent well")),
        ("score", value(Kind::Number(42.5))),
        ("budget", money("EUR", 1200, 500_000_000)),
        ("kickoff", date(2027, 2, 28)),
        (
            "signed_at",
            value(Kind::Datetime(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            })),
        ),
        ("strategic", value(Kind::Boolean(true))),
        ("tier", option("gold")),
        // Stored (and returned) in the field's option order.
        ("products", options(&["bi", "crm"])),
        ("champion", text("ann")),
        ("billing_email", text("ap@acme.example")),
        ("website", text("https://acme.example/buy")),
        ("hotline", text("+1 (555) 010-2000")),
    ]);
    let deal = f.deal("Acme", good.clone()).await.unwrap();
    let mut expected = good.clone();
    expected.insert("products".into(), options(&["crm", "bi"]));
    assert_eq!(deal.custom_fields, expected);
    assert_eq!(
        f.get(&deal.id).await.custom_fields,
        expected,
        "GetDeal returns what was stored"
    );

    let bad: Vec<(&str, common::FieldValue, &str)> = vec![
        ("code", text("ABCDEFGHIJK"), "deal.custom_fields.code"),
        ("code", value(Kind::Number(1.0)), "deal.custom_fields.code"),
        ("code", text("two\nlines"), "deal.custom_fields.code"),
        ("notes", text("bell \u{7}"), "deal.custom_fields.notes"),
        ("score", value(Kind::Number(100.5)), "deal.custom_fields.score"),
        ("score", value(Kind::Number(1.25)), "deal.custom_fields.score"),
        ("budget", money("USD", 5, 0), "deal.custom_fields.budget.currency_code"),
        ("budget", money("EUR", 5, 5), "deal.custom_fields.budget.nanos"),
        ("budget", money("EUR", -5, 0), "deal.custom_fields.budget"),
        ("kickoff", date(2027, 2, 30), "deal.custom_fields.kickoff"),
        (
            "signed_at",
            value(Kind::Datetime(prost_types::Timestamp { seconds: 0, nanos: -1 })),
            "deal.custom_fields.signed_at",
        ),
        ("strategic", text("yes"), "deal.custom_fields.strategic"),
        ("tier", option("platinum"), "deal.custom_fields.tier"),
        ("tier", text("gold"), "deal.custom_fields.tier"),
        (
            "products",
            options(&["crm", "crm"]),
            "deal.custom_fields.products.ids[1]",
        ),
        ("products", options(&["sap"]), "deal.custom_fields.products.ids[0]"),
        ("champion", text("two words"), "deal.custom_fields.champion"),
        (
            "billing_email",
            text("not-an-email"),
            "deal.custom_fields.billing_email",
        ),
        ("website", text("ftp://acme.example"), "deal.custom_fields.website"),
        ("hotline", text("12"), "deal.custom_fields.hotline"),
        ("no_such_field", text("x"), "deal.custom_fields.no_such_field"),
        ("code", common::FieldValue { kind: None }, "deal.custom_fields.code"),
    ];
    for (key, v, named) in &bad {
        let err = f.deal("Bad", values(&[(key, v.clone())])).await.unwrap_err();
        assert_bad_field(&err, named);
        let err = f.set(&deal, key, Some(v.clone())).await.unwrap_err();
        assert_bad_field(&err, named);
    }
    // Two bad values in one call: both are named.
    let err = f
        .deal("Bad", values(&[("tier", option("x")), ("hotline", text("1"))]))
        .await
        .unwrap_err();
    assert_bad_field(&err, "deal.custom_fields.tier");
    assert_bad_field(&err, "deal.custom_fields.hotline");
    // Nothing was written: one deal, unchanged.
    assert_eq!(f.list(vec![]).await.unwrap(), std::slice::from_ref(&deal.id));
    let now = f.get(&deal.id).await;
    assert_eq!((now.custom_fields, now.etag.as_str()), (expected, "v1"));
}

async fn required_fields_defaults_and_the_size_bound(backend: Backend) {
    let Some(suite) = up(backend, "field_required").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let before = f.deal("Before", values(&[])).await.unwrap();
    let region = common::FieldDefinition {
        required: true,
        ..field("region", FieldType::Text)
    };
    f.define(region).await.unwrap();
    let tier = common::FieldDefinition {
        default_value: Some(option("silver")),
        ..select("tier", FieldType::SingleSelect, &["Gold", "Silver"])
    };
    f.define(tier).await.unwrap();
    // A default must be a valid value of its field.
    let bad_default = common::FieldDefinition {
        default_value: Some(option("bronze")),
        ..select("level", FieldType::SingleSelect, &["One"])
    };
    assert_bad_field(&f.define(bad_default).await.unwrap_err(), "definition.default_value");

    let err = f.deal("No region", values(&[])).await.unwrap_err();
    assert_bad_field(&err, "deal.custom_fields.region");
    let d = f.deal("EMEA", values(&[("region", text("emea"))])).await.unwrap();
    assert_eq!(
        d.custom_fields,
        values(&[("region", text("emea")), ("tier", option("silver"))]),
        "the default filled in"
    );
    // The deal from before the field was required still reads; its next update must set it.
    assert!(f.get(&before.id).await.custom_fields.is_empty());
    let err = f.set(&before, "tier", Some(option("gold"))).await.unwrap_err();
    assert_bad_field(&err, "deal.custom_fields.region");
    f.set(&before, "region", Some(text("apac"))).await.unwrap();
    // Clearing a required value is refused.
    assert_bad_field(
        &f.set(&d, "region", None).await.unwrap_err(),
        "deal.custom_fields.region",
    );

    // 64 KiB of stored values per record at most.
    let notes = common::FieldDefinition {
        max_length: 65_536,
        ..field("notes", FieldType::LongText)
    };
    f.define(notes).await.unwrap();
    let huge = "x".repeat(65_536);
    let err = f.set(&d, "notes", Some(text(&huge))).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let fits = "x".repeat(60_000);
    f.set(&d, "notes", Some(text(&fits))).await.unwrap();
}

crm_kit::backend_tests!(
    every_type_round_trips_and_each_bad_value_names_its_field,
    required_fields_defaults_and_the_size_bound,
);
