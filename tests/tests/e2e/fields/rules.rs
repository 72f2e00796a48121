//! Automation rules with conditions on the deal: amount and a custom
//! field must both hold for the task to be created, the title renders the
//! custom value, and a condition on an unknown or archived field is refused.

use crm_kit::testing::{Backend, assert_bad_field, authed};
use crm_proto::{
    common::v1::{self as common, FieldType, field_value::Kind},
    pipeline::v1 as pb,
    tasks::v1::{self as t, ConditionOperator as Op, tasks_service_client::TasksServiceClient},
};
use tonic::transport::Channel;

use super::{Fields, field, option, select, value, values};
use crate::harness::{all_tasks, up};

fn rule(pipeline_id: &str, conditions: Vec<t::RuleCondition>) -> t::CreateRuleRequest {
    let rule = t::Rule {
        name: "Big EMEA deals".into(),
        enabled: true,
        trigger: Some(t::Trigger {
            kind: Some(t::trigger::Kind::DealCreated(t::DealCreated {
                pipeline_id: pipeline_id.into(),
            })),
        }),
        action: Some(t::Action {
            kind: Some(t::action::Kind::CreateTask(t::CreateTaskAction {
                title_template: "Call {deal.title} in {deal.fields.region}".into(),
                assignee: Some(t::create_task_action::Assignee::DealOwner(true)),
                ..Default::default()
            })),
        }),
        conditions,
        ..Default::default()
    };
    t::CreateRuleRequest {
        rule: Some(rule),
        request_id: String::new(),
    }
}

fn condition(field: &str, op: Op, v: Option<common::FieldValue>) -> t::RuleCondition {
    t::RuleCondition {
        field: field.into(),
        operator: op as i32,
        value: v,
        values: Vec::new(),
    }
}

fn eur(units: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".into(),
        units,
        nanos: 0,
    })
}

async fn a_rule_with_conditions_fires_only_for_the_deals_that_match(backend: Backend) {
    let Some(suite) = up(backend, "field_rules").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let mut tasks: TasksServiceClient<Channel> = TasksServiceClient::new(suite.channel.clone());
    f.define(select("region", FieldType::SingleSelect, &["EMEA", "APAC"]))
        .await
        .unwrap();
    f.define(field("legacy", FieldType::Text)).await.unwrap();
    let p = f.pipeline.id.clone();
    let big = condition("amount", Op::GreaterThan, Some(value(Kind::Money(eur(1_000).unwrap()))));
    let emea = condition("custom_fields.region", Op::Equals, Some(option("emea")));
    // Refused: an unknown field, a value that is not an option, an archived field.
    let err = tasks
        .create_rule(authed(
            &f.t,
            rule(&p, vec![condition("custom_fields.nope", Op::IsSet, None)]),
        ))
        .await
        .unwrap_err();
    assert_bad_field(&err, "rule.conditions[0].field");
    let err = tasks
        .create_rule(authed(
            &f.t,
            rule(
                &p,
                vec![condition("custom_fields.region", Op::Equals, Some(option("mars")))],
            ),
        ))
        .await
        .unwrap_err();
    assert_bad_field(&err, "rule.conditions[0].value");
    let archive = pb::ArchiveFieldDefinitionRequest {
        key: "legacy".into(),
        etag: String::new(),
    };
    f.client.archive_field_definition(authed(&f.t, archive)).await.unwrap();
    let err = tasks
        .create_rule(authed(
            &f.t,
            rule(&p, vec![condition("custom_fields.legacy", Op::IsSet, None)]),
        ))
        .await
        .unwrap_err();
    assert_bad_field(&err, "rule.conditions[0].field");

    let created = tasks
        .create_rule(authed(&f.t, rule(&p, vec![big, emea])))
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(created.conditions.len(), 2, "the conditions are kept");
    let deal = |title: &str, units: i64, region: Option<&str>| pb::Deal {
        pipeline_id: p.clone(),
        title: title.into(),
        amount: eur(units),
        custom_fields: region.map(|r| values(&[("region", option(r))])).unwrap_or_default(),
        ..Default::default()
    };
    let cases = [
        ("Acme", 2_000, Some("emea"), true),
        ("Small", 500, Some("emea"), false),
        ("Far", 2_000, Some("apac"), false),
        ("Nowhere", 2_000, None, false),
        ("Globex", 3_000, Some("emea"), true),
    ];
    for (title, units, region, _) in cases {
        let d = deal(title, units, region);
        crate::harness::create_deal(&mut f.client, &f.t, d).await;
    }
    // The events are handled in order: once Globex's task exists, every deal before it was seen.
    let mut titles = Vec::new();
    for _ in 0..300 {
        titles = all_tasks(&mut tasks, &f.t)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.title)
            .collect::<Vec<_>>();
        if titles.iter().any(|t| t.contains("Globex")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    titles.sort();
    let mut expected: Vec<String> = cases
        .iter()
        .filter(|c| c.3)
        .map(|c| format!("Call {} in emea", c.0))
        .collect();
    expected.sort();
    assert_eq!(titles, expected);
}

crm_kit::backend_tests!(a_rule_with_conditions_fires_only_for_the_deals_that_match);
