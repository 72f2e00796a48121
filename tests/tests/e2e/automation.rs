//! Stage-triggered automation in `crm up`: a deal moved into a stage with a
//! rule gives its owner exactly one follow-up task, through the in-process
//! bus, with nothing to wire by hand.

use std::time::Duration;

use crm_kit::testing::{Backend, token};
use crm_proto::{
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as t, tasks_service_client::TasksServiceClient},
};

use super::harness::{create_deal, move_to, proposal_rule, sales_pipeline, up, wait_tasks};

async fn moving_a_deal_into_a_stage_with_a_rule_creates_one_task_for_its_owner(backend: Backend) {
    let Some(suite) = up(backend, "automation").await else {
        return;
    };
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let mut tasks = TasksServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;
    proposal_rule(&mut tasks, &admin, &p.id, &p.stages[1].id).await;

    let bob = token("acme", "bob", &["rep"]);
    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Acme renewal".into(),
        ..Default::default()
    };
    let deal = create_deal(&mut pipeline, &bob, deal).await;
    let other = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Untouched".into(),
        ..Default::default()
    };
    let other = create_deal(&mut pipeline, &bob, other).await;
    move_to(&mut pipeline, &bob, &deal.id, &p.stages[1].id).await;

    let found = wait_tasks(&mut tasks, &admin, &deal.id, 1).await;
    assert_eq!(found.len(), 1, "one task for one trigger");
    let task = &found[0];
    assert_eq!(task.title, "Send the proposal for Acme renewal");
    assert_eq!(
        (task.assignee_id.as_str(), task.status),
        ("bob", t::TaskStatus::Open as i32)
    );
    assert_eq!(
        task.remind_before,
        [prost_types::Duration {
            seconds: 3_600,
            nanos: 0
        }]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        wait_tasks(&mut tasks, &admin, &deal.id, 0).await.len(),
        1,
        "and no second one later"
    );
    assert!(
        wait_tasks(&mut tasks, &admin, &other.id, 0).await.is_empty(),
        "a deal that did not move has none"
    );
}

crm_kit::backend_tests!(moving_a_deal_into_a_stage_with_a_rule_creates_one_task_for_its_owner);
