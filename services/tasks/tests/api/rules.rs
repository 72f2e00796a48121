//! Rules: create, read, update and delete; the trigger checked against
//! PipelineService with the caller's token; bad input named field by field.

use crm_kit::testing::{Backend, authed, token};
use crm_proto::tasks::v1::{self as pb, action, create_task_action::Assignee, trigger};
use prost_types::FieldMask;
use tonic::Code;

use super::harness::{assert_bad_field, assert_precondition, secs, suite};

/// A rule: when a deal enters `stage_id` of `pipeline_id`, a task for `assignee`.
pub fn entering(pipeline_id: &str, stage_id: &str, assignee: Assignee) -> pb::Rule {
    let t = trigger::Kind::DealEnteredStage(pb::DealEnteredStage {
        pipeline_id: pipeline_id.into(),
        stage_id: stage_id.into(),
    });
    rule(t, assignee)
}

/// An enabled rule with `trigger` creating "Follow up {deal.title}" due in a day.
pub fn rule(kind: trigger::Kind, assignee: Assignee) -> pb::Rule {
    pb::Rule {
        name: "Follow up".into(),
        enabled: true,
        trigger: Some(pb::Trigger { kind: Some(kind) }),
        action: Some(pb::Action {
            kind: Some(action::Kind::CreateTask(pb::CreateTaskAction {
                title_template: "Follow up {deal.title}".into(),
                due_in: Some(secs(86_400)),
                assignee: Some(assignee),
                priority: pb::TaskPriority::High as i32,
                remind_before: vec![secs(3600)],
            })),
        }),
        ..Default::default()
    }
}

fn create_task_action(r: &mut pb::Rule) -> &mut pb::CreateTaskAction {
    match r.action.as_mut().and_then(|a| a.kind.as_mut()) {
        Some(action::Kind::CreateTask(a)) => a,
        None => panic!("rule without action"),
    }
}

async fn a_rule_round_trips_and_each_change_is_announced(backend: Backend) {
    let Some(mut s) = suite(backend, "rule_crud").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let created = s
        .create_rule(entering(&p.id, &p.stages[1].id, Assignee::DealOwner(true)))
        .await
        .unwrap();
    assert_eq!(created.etag, "v1");
    let got = s
        .tasks
        .get_rule(authed(&s.token, pb::GetRuleRequest { id: created.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(got, created);
    let mut change = created.clone();
    change.name = "Renamed".into();
    change.enabled = false;
    let update = |r: pb::Rule| pb::UpdateRuleRequest {
        rule: Some(r),
        update_mask: Some(FieldMask {
            paths: vec!["name".into(), "enabled".into()],
        }),
    };
    let updated = s
        .tasks
        .update_rule(authed(&s.token, update(change.clone())))
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.enabled, updated.etag.as_str()),
        ("Renamed", false, "v2")
    );
    let stale = s.tasks.update_rule(authed(&s.token, update(change))).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let list = s
        .tasks
        .list_rules(authed(&s.token, pb::ListRulesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.rules, [updated]);
    let other = token("globex", "gus", &["admin"]);
    let foreign = s
        .tasks
        .get_rule(authed(&other, pb::GetRuleRequest { id: created.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    s.tasks
        .delete_rule(authed(
            &s.token,
            pb::DeleteRuleRequest {
                id: created.id.clone(),
                etag: "v2".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        s.event_types().await,
        ["tasks.rule.created", "tasks.rule.updated", "tasks.rule.deleted"]
    );
}

async fn a_rule_on_an_unknown_pipeline_or_stage_is_a_failed_precondition(backend: Backend) {
    let Some(mut s) = suite(backend, "rule_references").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let missing = crm_kit::validate::new_id().to_string();
    let err = s
        .create_rule(entering(&missing, &p.stages[0].id, Assignee::DealOwner(true)))
        .await
        .unwrap_err();
    assert_precondition(&err, "rule.trigger.deal_entered_stage.pipeline_id");
    let err = s
        .create_rule(entering(&p.id, &missing, Assignee::DealOwner(true)))
        .await
        .unwrap_err();
    assert_precondition(&err, "rule.trigger.deal_entered_stage.stage_id");
    let won = trigger::Kind::DealWon(pb::DealWon {
        pipeline_id: missing.clone(),
    });
    let err = s.create_rule(rule(won, Assignee::DealOwner(true))).await.unwrap_err();
    assert_precondition(&err, "rule.trigger.deal_won.pipeline_id");
    // Another tenant's pipeline is unknown to the caller: the token is forwarded.
    let theirs = token("globex", "gus", &["admin"]);
    let req = pb::CreateRuleRequest {
        rule: Some(entering(&p.id, &p.stages[0].id, Assignee::DealOwner(true))),
        request_id: String::new(),
    };
    let err = s.tasks.create_rule(authed(&theirs, req)).await.unwrap_err();
    assert_precondition(&err, "rule.trigger.deal_entered_stage.pipeline_id");
    assert!(s.event_types().await.is_empty());
}

async fn bad_rule_input_names_every_field(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_rule").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let good = entering(&p.id, &p.stages[0].id, Assignee::DealOwner(true));

    let mut no_trigger = good.clone();
    no_trigger.trigger = Some(pb::Trigger::default());
    no_trigger.name = String::new();
    let err = s.create_rule(no_trigger).await.unwrap_err();
    assert_bad_field(&err, "rule.trigger");
    assert_bad_field(&err, "rule.name");

    let mut no_action = good.clone();
    no_action.action = None;
    assert_bad_field(&s.create_rule(no_action).await.unwrap_err(), "rule.action");

    let mut bad_ids = entering("nope", "also-nope", Assignee::DealOwner(true));
    bad_ids.name = "n".repeat(101);
    let err = s.create_rule(bad_ids).await.unwrap_err();
    assert_bad_field(&err, "rule.trigger.deal_entered_stage.pipeline_id");
    assert_bad_field(&err, "rule.trigger.deal_entered_stage.stage_id");
    assert_bad_field(&err, "rule.name");

    let mut bad_action = good.clone();
    let a = create_task_action(&mut bad_action);
    a.title_template = "Call {contact.name}".into();
    a.due_in = Some(secs(-60));
    a.remind_before = vec![secs(-1)];
    a.priority = 17;
    let err = s.create_rule(bad_action).await.unwrap_err();
    for field in [
        "rule.action.create_task.title_template",
        "rule.action.create_task.due_in",
        "rule.action.create_task.remind_before[0]",
        "rule.action.create_task.priority",
    ] {
        assert_bad_field(&err, field);
    }

    let assignees = [
        (
            Assignee::RoundRobin(pb::RoundRobin { user_ids: vec![] }),
            "rule.action.create_task.round_robin.user_ids",
        ),
        (Assignee::DealOwner(false), "rule.action.create_task.deal_owner"),
        (Assignee::UserId(String::new()), "rule.action.create_task.user_id"),
    ];
    for (assignee, field) in assignees {
        let mut r = good.clone();
        create_task_action(&mut r).assignee = Some(assignee);
        assert_bad_field(&s.create_rule(r).await.unwrap_err(), field);
    }
    let mut far = good.clone();
    create_task_action(&mut far).due_in = Some(secs(366 * 86_400));
    assert_bad_field(&s.create_rule(far).await.unwrap_err(), "rule.action.create_task.due_in");
    let mut none = good;
    create_task_action(&mut none).assignee = None;
    assert_bad_field(
        &s.create_rule(none).await.unwrap_err(),
        "rule.action.create_task.assignee",
    );
    assert!(s.event_types().await.is_empty());
}

async fn the_same_request_id_twice_creates_one_rule(backend: Backend) {
    let Some(mut s) = suite(backend, "idempotent_rule").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let req = pb::CreateRuleRequest {
        rule: Some(entering(&p.id, &p.stages[0].id, Assignee::UserId("bob".into()))),
        request_id: "rule-1".into(),
    };
    let a = s
        .tasks
        .create_rule(authed(&s.token, req.clone()))
        .await
        .unwrap()
        .into_inner();
    let b = s.tasks.create_rule(authed(&s.token, req)).await.unwrap().into_inner();
    assert_eq!(a.rule.unwrap().id, b.rule.unwrap().id);
    assert_eq!(s.event_types().await, ["tasks.rule.created"]);
}

crm_kit::backend_tests!(
    a_rule_round_trips_and_each_change_is_announced,
    a_rule_on_an_unknown_pipeline_or_stage_is_a_failed_precondition,
    bad_rule_input_names_every_field,
    the_same_request_id_twice_creates_one_rule,
);
