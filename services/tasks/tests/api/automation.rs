//! Automation: pipeline events through the in-process bus fire rules once
//! per event (also when redelivered), round robin is fair, and deleted
//! deals and contacts cancel their open tasks.

use std::collections::HashMap;

use crm_kit::{
    bus::Handler,
    testing::{Backend, authed},
};
use crm_proto::{
    contacts::v1 as cpb,
    events::v1 as ev,
    pipeline::v1 as ppb,
    tasks::v1::{self as pb, create_task_action::Assignee, trigger},
};
use crm_tasks::automation::Automation;
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{
    harness::{suite, task},
    rules::{entering, rule},
};

async fn a_deal_entering_a_stage_with_a_rule_gets_exactly_one_task(backend: Backend) {
    let Some(mut s) = suite(backend, "rule_fires_once").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let mut r = entering(&p.id, &p.stages[1].id, Assignee::DealOwner(true));
    if let Some(pb::action::Kind::CreateTask(a)) = r.action.as_mut().and_then(|a| a.kind.as_mut()) {
        a.title_template = "Call {deal.title} about {deal.amount} in {stage.name}".into();
    }
    let r = s.create_rule(r).await.unwrap();
    let contact = s.contact("dana@example.com").await;
    let deal = s.deal(&p, "Acme", 12_000, &contact.id).await;
    s.move_to(&deal, &p.stages[1].id, "").await;
    s.relay().await;

    let tasks = s.all_tasks().await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let t = &tasks[0];
    assert_eq!(t.title, "Call Acme about 12000.00 EUR in Demo");
    assert_eq!(t.assignee_id, "ann");
    assert_eq!(
        (t.deal_id.as_str(), t.contact_id.as_str()),
        (deal.id.as_str(), contact.id.as_str())
    );
    assert_eq!(t.rule_id, r.id);
    assert_eq!(t.priority, pb::TaskPriority::High as i32);
    assert_eq!(t.remind_before.len(), 1);
    let moved = s
        .pipeline_events()
        .await
        .into_iter()
        .find(|e| e.r#type == "pipeline.deal.stage_changed")
        .unwrap();
    let occurred = moved.occurred_at.unwrap().seconds;
    assert_eq!(t.due_time.unwrap().seconds, occurred + 86_400);

    // A redelivery through the bus, and the handler run again past the inbox:
    // still one task.
    s.redeliver(&moved).await;
    let txn = s.db.begin().await.unwrap();
    Automation.handle(&txn, &moved).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(s.all_tasks().await.len(), 1);
    let created: Vec<ev::TaskCreated> = s
        .events()
        .await
        .into_iter()
        .filter(|e| e.r#type == "tasks.task.created")
        .map(|e| e.payload.unwrap().to_msg().unwrap())
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].trigger_event_id, moved.event_id);
}

async fn deal_created_won_and_lost_rules_fire_for_their_pipeline(backend: Backend) {
    let Some(mut s) = suite(backend, "rule_kinds").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let other = s.sales_pipeline().await;
    let user = |u: &str| Assignee::UserId(u.into());
    let pid = || p.id.clone();
    let created = trigger::Kind::DealCreated(ppb_created(pid()));
    s.create_rule(rule(created, user("carl"))).await.unwrap();
    s.create_rule(rule(
        trigger::Kind::DealWon(pb::DealWon { pipeline_id: pid() }),
        user("wanda"),
    ))
    .await
    .unwrap();
    s.create_rule(rule(
        trigger::Kind::DealLost(pb::DealLost { pipeline_id: pid() }),
        user("larry"),
    ))
    .await
    .unwrap();
    s.create_rule(entering(&p.id, &p.stages[0].id, user("lena")))
        .await
        .unwrap();
    let mut disabled = entering(&p.id, &p.stages[0].id, user("nobody"));
    disabled.enabled = false;
    s.create_rule(disabled).await.unwrap();

    let a = s.deal(&p, "A", 10, "").await;
    let b = s.deal(&p, "B", 20, "").await;
    s.deal(&other, "Elsewhere", 30, "").await;
    s.move_to(&a, &p.stages[2].id, "").await;
    s.move_to(&b, &p.stages[3].id, "too expensive").await;
    s.relay().await;

    let mut per_user: HashMap<String, Vec<String>> = HashMap::new();
    for t in s.all_tasks().await {
        per_user.entry(t.assignee_id).or_default().push(t.deal_id);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let both = sorted(vec![a.id.clone(), b.id.clone()]);
    assert_eq!(sorted(per_user.remove("carl").unwrap()), both);
    assert_eq!(sorted(per_user.remove("lena").unwrap()), both);
    assert_eq!(per_user.remove("wanda").unwrap(), [a.id.as_str()]);
    assert_eq!(per_user.remove("larry").unwrap(), [b.id.as_str()]);
    assert!(per_user.is_empty(), "unexpected tasks: {per_user:?}");
}

async fn a_stalled_deal_fires_its_pipelines_stall_rule_once_naming_the_stage(backend: Backend) {
    let Some(mut s) = suite(backend, "rule_stalled").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let mut r = rule(
        trigger::Kind::DealStalled(pb::DealStalled {
            pipeline_id: p.id.clone(),
        }),
        Assignee::DealOwner(true),
    );
    if let Some(pb::action::Kind::CreateTask(a)) = r.action.as_mut().and_then(|a| a.kind.as_mut()) {
        a.title_template = "Revive {deal.title}: stuck in {stage.name}".into();
    }
    s.create_rule(r).await.unwrap();
    let mut won = rule(
        trigger::Kind::DealWon(pb::DealWon {
            pipeline_id: p.id.clone(),
        }),
        Assignee::DealOwner(true),
    );
    if let Some(pb::action::Kind::CreateTask(a)) = won.action.as_mut().and_then(|a| a.kind.as_mut()) {
        a.title_template = "Thank {deal.title} ({stage.name})".into();
    }
    s.create_rule(won).await.unwrap();

    // The sales pipeline's first stage rots: make the deal old in it.
    let stuck = s.deal(&p, "Stuck", 10, "").await;
    let then = crm_kit::time::now_micros() - 40 * 86_400 * 1_000_000;
    let stmt = sea_orm::Statement::from_sql_and_values(
        s.pipeline_db.get_database_backend(),
        "UPDATE stages SET rotting_days = 7 WHERE id = $1",
        [p.stages[0].id.clone().into()],
    );
    s.pipeline_db.execute_raw(stmt).await.unwrap();
    let stmt = sea_orm::Statement::from_sql_and_values(
        s.pipeline_db.get_database_backend(),
        "UPDATE deals SET stage_entered_at = $1 WHERE id = $2",
        [then.into(), stuck.id.clone().into()],
    );
    s.pipeline_db.execute_raw(stmt).await.unwrap();
    let scanner = crm_pipeline::stalls::Scanner::new(s.pipeline_db.clone(), std::time::Duration::from_secs(60));
    assert_eq!(scanner.scan_once().await.unwrap(), 1);
    assert_eq!(scanner.scan_once().await.unwrap(), 0);
    s.relay().await;
    let closer = s.deal(&p, "Closer", 10, "").await;
    s.move_to(&closer, &p.stages[2].id, "").await;
    s.relay().await;

    let mut titles: Vec<String> = s.all_tasks().await.into_iter().map(|t| t.title).collect();
    titles.sort();
    assert_eq!(titles, ["Revive Stuck: stuck in Lead", "Thank Closer (Won)"]);
}

fn ppb_created(pipeline_id: String) -> pb::DealCreated {
    pb::DealCreated { pipeline_id }
}

async fn round_robin_hands_out_tasks_in_fair_turns(backend: Backend) {
    let Some(mut s) = suite(backend, "round_robin").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let users = vec!["u1".to_owned(), "u2".to_owned(), "u3".to_owned()];
    let rr = Assignee::RoundRobin(pb::RoundRobin {
        user_ids: users.clone(),
    });
    s.create_rule(entering(&p.id, &p.stages[0].id, rr)).await.unwrap();
    for i in 0..30 {
        s.deal(&p, &format!("Deal {i}"), 100, "").await;
        if i % 10 == 9 {
            s.relay().await;
        }
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    let tasks = s.all_tasks().await;
    for t in &tasks {
        *counts.entry(t.assignee_id.clone()).or_default() += 1;
    }
    assert_eq!(tasks.len(), 30);
    for u in &users {
        assert_eq!(counts.get(u), Some(&10), "{counts:?}");
    }
}

async fn deleting_a_deal_or_contact_cancels_its_open_tasks(backend: Backend) {
    let Some(mut s) = suite(backend, "cancel_on_delete").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    s.create_rule(entering(&p.id, &p.stages[0].id, Assignee::DealOwner(true)))
        .await
        .unwrap();
    let deal = s.deal(&p, "Doomed", 5, "").await;
    s.relay().await;
    let mut done = task("Already done");
    done.deal_id = deal.id.clone();
    let done = s.create_task(done).await.unwrap();
    s.tasks
        .complete_task(authed(
            &s.token,
            pb::CompleteTaskRequest {
                id: done.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap();
    let contact = s.contact("gone@example.com").await;
    let mut about_contact = task("Call the contact");
    about_contact.contact_id = contact.id.clone();
    s.create_task(about_contact).await.unwrap();

    s.pipeline
        .delete_deal(authed(
            &s.token,
            ppb::DeleteDealRequest {
                id: deal.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap();
    s.contacts
        .delete_contact(authed(
            &s.token,
            cpb::DeleteContactRequest {
                id: contact.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap();
    s.relay().await;

    let statuses: HashMap<String, i32> = s.all_tasks().await.into_iter().map(|t| (t.title, t.status)).collect();
    assert_eq!(statuses.len(), 3);
    assert_eq!(statuses["Already done"], pb::TaskStatus::Done as i32);
    assert_eq!(statuses["Follow up Doomed"], pb::TaskStatus::Cancelled as i32);
    assert_eq!(statuses["Call the contact"], pb::TaskStatus::Cancelled as i32);
    let reasons: Vec<String> = s
        .events()
        .await
        .into_iter()
        .filter(|e| e.r#type == "tasks.task.cancelled")
        .map(|e| e.payload.unwrap().to_msg::<ev::TaskCancelled>().unwrap().reason)
        .collect();
    assert_eq!(reasons, ["deal deleted", "contact deleted"]);
}

crm_kit::backend_tests!(
    a_stalled_deal_fires_its_pipelines_stall_rule_once_naming_the_stage,
    a_deal_entering_a_stage_with_a_rule_gets_exactly_one_task,
    deal_created_won_and_lost_rules_fire_for_their_pipeline,
    round_robin_hands_out_tasks_in_fair_turns,
    deleting_a_deal_or_contact_cancels_its_open_tasks,
);
