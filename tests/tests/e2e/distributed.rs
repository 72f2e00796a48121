//! The production shape on one machine: contacts, pipeline and tasks each
//! served alone (as `crm serve` runs them) with their own databases, events
//! through the machine's RabbitMQ. A deal moved into a stage with a rule
//! gives exactly one task, also when the same event is delivered twice.

use std::{sync::Arc, time::Duration};

use crm::{ServiceConfig, ServiceName};
use crm_kit::{
    bus::{Message, Publisher, amqp::AmqpPublisher},
    testing::{Backend, TestDatabase, authed, token, wait_queue},
};
use crm_proto::{
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::tasks_service_client::TasksServiceClient,
};
use tokio::{net::TcpListener, sync::oneshot};

use super::harness::{create_deal, move_to, proposal_rule, sales_pipeline, wait_serving, wait_tasks};

/// One service on a random port; stopped when the sender drops.
pub(super) async fn serve(service: ServiceName, config: ServiceConfig) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crm::run_service(service, listener, config, async {
        let _ = stopped.await;
    }));
    wait_serving(&url).await;
    (url, stop)
}

async fn a_deal_entering_a_stage_with_a_rule_yields_one_task_through_rabbitmq(backend: Backend) {
    let Some(broker) = crate::harness::suite_broker("distributed_rule") else {
        return;
    };
    let Some(contacts_db) = TestDatabase::create(backend, "dist_contacts").await else {
        return;
    };
    let Some(pipeline_db) = TestDatabase::create(backend, "dist_pipeline").await else {
        return;
    };
    let Some(tasks_db) = TestDatabase::create(backend, "dist_tasks").await else {
        return;
    };
    // Registers the tasks queues with the test broker, so they are deleted after.
    drop(broker.consumer(crm_tasks::automation::CONSUMER, &[]));
    drop(broker.consumer(crm_contacts::CONSUMER, &[]));
    let config = |db: &TestDatabase, contacts_url: &str, pipeline_url: &str| ServiceConfig {
        contacts_url: contacts_url.to_owned(),
        pipeline_url: pipeline_url.to_owned(),
        amqp: Some(broker.config.clone()),
        ..ServiceConfig::new(&db.url, crm_kit::testing::auth_config())
    };
    let (contacts_url, _c) = serve(ServiceName::Contacts, config(&contacts_db, "", "")).await;
    let (pipeline_url, _p) = serve(ServiceName::Pipeline, config(&pipeline_db, &contacts_url, "")).await;
    let (tasks_url, _t) = serve(ServiceName::Tasks, config(&tasks_db, &contacts_url, &pipeline_url)).await;
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
    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Globex expansion".into(),
        ..Default::default()
    };
    let deal = create_deal(&mut pipeline, &admin, deal).await;
    move_to(&mut pipeline, &admin, &deal.id, &p.stages[1].id).await;

    let found = wait_tasks(&mut tasks, &admin, &deal.id, 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].title.as_str(), found[0].assignee_id.as_str()),
        ("Send the proposal for Globex expansion", "ann")
    );

    // The same stage_changed event delivered again changes nothing.
    let pdb = crm_kit::db::connect(&pipeline_db.url).await.unwrap();
    let moved = crm_kit::outbox::read_all(&pdb)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.r#type == "pipeline.deal.stage_changed")
        .unwrap();
    let again = Message {
        event_id: moved.event_id.clone(),
        routing_key: moved.r#type.clone(),
        body: prost::Message::encode_to_vec(&moved),
    };
    Arc::new(AmqpPublisher::new(broker.config.clone()))
        .publish(&again)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        wait_tasks(&mut tasks, &admin, &deal.id, 0).await.len(),
        1,
        "a redelivered event creates nothing"
    );
}

/// Two tasks replicas on one database: a reminder reaches the watchers of
/// both, exactly once each, whichever replica's scheduler fired it.
/// (PostgreSQL only: replicas share a server database, never a SQLite file.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_reaches_the_watchers_of_every_tasks_replica() {
    use crm_proto::tasks::v1 as t;
    let backend = Backend::Postgres;
    let Some(broker) = crate::harness::suite_broker("distributed_reminders") else {
        return;
    };
    let Some(tasks_db) = TestDatabase::create(backend, "dist_reminders").await else {
        return;
    };
    drop(broker.consumer(crm_tasks::automation::CONSUMER, &[]));
    let config = ServiceConfig {
        contacts_url: "http://127.0.0.1:1".into(),
        pipeline_url: "http://127.0.0.1:1".into(),
        amqp: Some(broker.config.clone()),
        ..ServiceConfig::new(&tasks_db.url, crm_kit::testing::auth_config())
    };
    let (one, _one) = serve(ServiceName::Tasks, config.clone()).await;
    let (two, _two) = serve(ServiceName::Tasks, config).await;
    let ann = token("acme", "ann", &["admin"]);
    let mut watchers = Vec::new();
    for url in [&one, &two] {
        let mut client = TasksServiceClient::new(wait_serving(url).await);
        let watch = client
            .watch_reminders(authed(&ann, t::WatchRemindersRequest::default()))
            .await
            .unwrap()
            .into_inner();
        watchers.push(watch);
    }
    // Both replicas' subscriptions are bound before the reminder falls due.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let task = t::Task {
        title: "Call back".into(),
        due_time: Some(prost_types::Timestamp {
            seconds: now + 3,
            nanos: 0,
        }),
        remind_before: vec![prost_types::Duration { seconds: 1, nanos: 0 }],
        ..Default::default()
    };
    let req = t::CreateTaskRequest {
        task: Some(task),
        request_id: String::new(),
    };
    let created = TasksServiceClient::new(wait_serving(&one).await)
        .create_task(authed(&ann, req))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    for (i, watch) in watchers.iter_mut().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(15), watch.message())
            .await
            .unwrap_or_else(|_| panic!("the watcher of replica {} heard the reminder within 15 s", i + 1))
            .unwrap()
            .expect("the stream is open");
        assert_eq!(got.reminder.unwrap().task.unwrap().id, created.id);
        let again = tokio::time::timeout(Duration::from_secs(1), watch.message()).await;
        assert!(again.is_err(), "replica {} announced it once: {again:?}", i + 1);
    }
}

crm_kit::backend_tests!(a_deal_entering_a_stage_with_a_rule_yields_one_task_through_rabbitmq);
