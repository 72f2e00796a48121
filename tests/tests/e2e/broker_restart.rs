//! The broker is stopped (`rabbitmqctl stop_app`) while deals are being
//! moved into a stage with a rule, and started again: every event arrives,
//! the rule fires exactly once per deal, nothing is applied twice.
//!
//! Stopping the broker stops it for everyone, so this runs as its own step
//! of `.ci/run` (`CRM_TEST_BROKER_RESTART=1`); the workspace run announces
//! that it skipped it.

use std::{io::Write, process::Command, time::Duration};

use crm::{ServiceConfig, ServiceName};
use crm_kit::testing::{Backend, TestDatabase, token, wait_queue};
use crm_proto::{
    pipeline::v1::pipeline_service_client::PipelineServiceClient, tasks::v1::tasks_service_client::TasksServiceClient,
};

use super::{
    distributed::serve,
    harness::{all_tasks, numbered_deals, proposal_rule, sales_pipeline, spawn_mover, wait_serving},
};

/// Starts the broker app again when dropped, also when the test panics.
struct RestartGuard;

impl Drop for RestartGuard {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").arg("start_app").status();
        let _ = Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "60"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_fires_once_across_a_broker_restart() {
    if std::env::var("CRM_TEST_BROKER_RESTART").as_deref() != Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (broker restart): it stops RabbitMQ for everyone, so .ci/run runs it as its own step with CRM_TEST_BROKER_RESTART=1"
        );
        return;
    }
    let broker = crate::harness::suite_broker("e2e_broker_restart").expect("CRM_TEST_AMQP_URL is required");
    drop(broker.consumer(crm_tasks::automation::CONSUMER, &[]));
    drop(broker.consumer(crm_contacts::CONSUMER, &[]));
    let dbs = [
        TestDatabase::create(Backend::Sqlite, "restart_contacts").await.unwrap(),
        TestDatabase::create(Backend::Sqlite, "restart_pipeline").await.unwrap(),
        TestDatabase::create(Backend::Sqlite, "restart_tasks").await.unwrap(),
    ];
    let config = |db: &TestDatabase, contacts_url: &str, pipeline_url: &str| ServiceConfig {
        contacts_url: contacts_url.to_owned(),
        pipeline_url: pipeline_url.to_owned(),
        amqp: Some(broker.config.clone()),
        ..ServiceConfig::new(&db.url, crm_kit::testing::auth_config())
    };
    let (contacts_url, _c) = serve(ServiceName::Contacts, config(&dbs[0], "", "")).await;
    let (pipeline_url, _p) = serve(ServiceName::Pipeline, config(&dbs[1], &contacts_url, "")).await;
    let (tasks_url, _t) = serve(ServiceName::Tasks, config(&dbs[2], &contacts_url, &pipeline_url)).await;
    wait_queue(
        &broker.config.url,
        &broker.config.queue(crm_tasks::automation::CONSUMER),
    )
    .await;

    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(wait_serving(&pipeline_url).await);
    let mut tasks = TasksServiceClient::new(wait_serving(&tasks_url).await);
    let p = sales_pipeline(&mut pipeline, &admin).await;
    proposal_rule(&mut tasks, &admin, &p.id, &p.stages[1].id).await;

    const DEALS: usize = 60;
    let deals = numbered_deals(&mut pipeline, &admin, &p, DEALS).await;
    let (mover, _) = spawn_mover(&pipeline, &admin, &deals, &p.stages[1].id, Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let guard = RestartGuard;
    let stopped = tokio::task::spawn_blocking(|| Command::new("rabbitmqctl").arg("stop_app").status())
        .await
        .unwrap();
    assert!(stopped.unwrap().success(), "rabbitmqctl stop_app");
    let before_restart = all_tasks(&mut tasks, &admin).await.unwrap().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
    mover.await.unwrap();

    for _ in 0..600 {
        if all_tasks(&mut tasks, &admin).await.unwrap().len() >= DEALS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = all_tasks(&mut tasks, &admin).await.unwrap();
    let per_deal: Vec<usize> = deals
        .iter()
        .map(|d| all.iter().filter(|task| &task.deal_id == d).count())
        .collect();
    let _ = writeln!(
        std::io::stderr(),
        "broker restart (rule level): {DEALS} deals moved, {before_restart} tasks when the broker stopped, {} tasks after, {} deals with exactly one",
        all.len(),
        per_deal.iter().filter(|n| **n == 1).count()
    );
    assert!(
        before_restart < DEALS,
        "the broker stopped while deals were still moving"
    );
    assert_eq!(per_deal, vec![1; DEALS], "every deal got exactly one task");
}
