//! The broker is stopped (`rabbitmqctl stop_app`) while events are being
//! produced, and started again: every event still arrives, and each is
//! applied exactly once.
//!
//! Stopping the broker stops it for every test on the machine, so this runs
//! as its own step of `.ci/run` (`CRM_TEST_BROKER_RESTART=1`), never beside
//! the other broker tests; in the workspace test run it announces that.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::{io::Write, process::Command, sync::Arc, time::Duration};

use crm_kit::{
    auth::Caller,
    bus::{
        Handler,
        amqp::AmqpPublisher,
        relay::{Relay, pending},
    },
    migration::{CreateInbox, CreateKitTables},
    outbox::{self, Event},
    testing::{Backend, TestBroker, TestDatabase},
};
use crm_proto::events::v1::{DealDeleted, EventEnvelope};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateKitTables), Box::new(CreateInbox)]
    }
}

/// Counts applications in `effects`.
struct Recorder;

#[tonic::async_trait]
impl Handler for Recorder {
    async fn handle(&self, txn: &DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()> {
        let stmt = Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO effects (event_id) VALUES ($1)",
            [event.event_id.clone().into()],
        );
        txn.execute_raw(stmt).await?;
        Ok(())
    }
}

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

fn rabbitmqctl(arg: &str) {
    let status = Command::new("rabbitmqctl").arg(arg).status().expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {arg} failed");
}

async fn database(test: &str) -> (TestDatabase, DatabaseConnection) {
    let db = TestDatabase::create(Backend::Sqlite, test).await.unwrap();
    let conn = crm_kit::db::connect_and_migrate::<Migrator>(&db.url).await.unwrap();
    conn.execute_unprepared("CREATE TABLE effects (event_id TEXT NOT NULL)")
        .await
        .unwrap();
    (db, conn)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_across_a_broker_restart() {
    if std::env::var("CRM_TEST_BROKER_RESTART").as_deref() != Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (broker restart): it stops RabbitMQ for everyone, so .ci/run runs it as its own step with CRM_TEST_BROKER_RESTART=1"
        );
        return;
    }
    let broker =
        TestBroker::create("broker_restart").expect("CRM_TEST_AMQP_URL is required with CRM_TEST_BROKER_RESTART=1");
    let (_p, producer) = database("restart_producer").await;
    let (_c, consumer_db) = database("restart_consumer").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let consumer = broker.consumer("restart", &["#"]);
    tokio::spawn(consumer.run(consumer_db.clone(), Arc::new(Recorder), until_stopped(stopped.clone())));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let relay = Relay::new(producer.clone(), Arc::new(AmqpPublisher::new(broker.config.clone())));
    tokio::spawn(relay.run(until_stopped(stopped.clone())));

    const EVENTS: usize = 300;
    let caller = Caller {
        user_id: "ann".into(),
        tenant_id: "acme".into(),
        roles: vec![],
        token: String::new(),
    };
    let writer = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                let txn = producer.begin().await.unwrap();
                let payload = DealDeleted {
                    deal_id: format!("deal-{i}"),
                    ..Default::default()
                };
                let event = Event {
                    event_type: "pipeline.deal.deleted",
                    aggregate_id: &payload.deal_id,
                    aggregate_version: 2,
                    payload: &payload,
                };
                outbox::append(&txn, &caller, event).await.unwrap();
                txn.commit().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let guard = RestartGuard;
    tokio::task::spawn_blocking(|| rabbitmqctl("stop_app")).await.unwrap();
    let during = count(&consumer_db, "SELECT COUNT(*) AS n FROM effects").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
    writer.await.unwrap();

    let mut applied = 0;
    for _ in 0..900 {
        applied = count(&consumer_db, "SELECT COUNT(DISTINCT event_id) AS n FROM effects").await;
        if applied == EVENTS as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = count(&consumer_db, "SELECT COUNT(*) AS n FROM effects").await;
    let left = pending(&producer).await.unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "broker restart: {EVENTS} events written, {during} applied before the stop, {applied} distinct applied, {total} applications, {left} left in the outbox"
    );
    let _ = stop.send(true);
    assert_eq!(applied, EVENTS as i64, "every event arrived");
    assert_eq!(total, EVENTS as i64, "nothing was applied twice");
    assert_eq!(left, 0, "the outbox drained");
    assert!(during < EVENTS as i64, "the broker really stopped mid-stream");
}
