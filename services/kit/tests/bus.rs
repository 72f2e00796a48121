//! The bus end to end: outbox rows written by a producer's transactions,
//! the relay, the in-process bus and RabbitMQ, and a consumer that applies
//! each event exactly once into its own database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use crm_kit::{
    auth::Caller,
    bus::{
        Handler, Message, Publisher,
        local::{LocalBus, Subscription},
        relay::{Relay, pending},
    },
    migration::{CreateInbox, CreateKitTables},
    outbox::{self, Event},
    testing::{Backend, TestDatabase},
};
use crm_proto::events::v1::{DealDeleted, EventEnvelope};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The kit's own tables, as a service database has them.
struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateKitTables), Box::new(CreateInbox)]
    }
}

async fn database(backend: Backend, test: &str) -> Option<(TestDatabase, DatabaseConnection)> {
    let db = TestDatabase::create(backend, test).await?;
    let conn = crm_kit::db::connect_and_migrate::<Migrator>(&db.url).await.unwrap();
    conn.execute_unprepared("CREATE TABLE effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL)")
        .await
        .unwrap();
    Some((db, conn))
}

/// Writes `n` events to the producer's outbox, one transaction each.
async fn produce(db: &DatabaseConnection, n: usize) -> Vec<String> {
    use sea_orm::TransactionTrait;
    let caller = Caller {
        user_id: "ann".into(),
        tenant_id: "acme".into(),
        roles: vec![],
        token: String::new(),
    };
    for i in 0..n {
        let txn = db.begin().await.unwrap();
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
    }
    outbox::read_all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

/// Records each applied event in `effects`; fails the first `fail_first`
/// attempts, and always fails the event `poison` if set.
struct Recorder {
    consumer: &'static str,
    fail_first: AtomicU32,
    poison: std::sync::Mutex<Option<String>>,
}

impl Recorder {
    fn new(consumer: &'static str) -> Arc<Self> {
        Arc::new(Self {
            consumer,
            fail_first: AtomicU32::new(0),
            poison: std::sync::Mutex::new(None),
        })
    }
}

#[tonic::async_trait]
impl Handler for Recorder {
    async fn handle(&self, txn: &DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()> {
        let sql = "INSERT INTO effects (consumer, event_id) VALUES ($1, $2)";
        let values = [self.consumer.into(), event.event_id.clone().into()];
        txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), sql, values))
            .await?;
        if self.fail_first.load(Ordering::SeqCst) > 0 {
            self.fail_first.fetch_sub(1, Ordering::SeqCst);
            anyhow::bail!("transient failure");
        }
        if self.poison.lock().unwrap().as_deref() == Some(event.event_id.as_str()) {
            anyhow::bail!("this event always fails");
        }
        Ok(())
    }
}

/// How many times each of `ids` was applied by `consumer` (in order).
async fn applied(db: &DatabaseConnection, consumer: &str, ids: &[String]) -> Vec<i64> {
    let mut counts = Vec::new();
    for id in ids {
        let sql = "SELECT COUNT(*) AS n FROM effects WHERE consumer = $1 AND event_id = $2";
        let stmt = Statement::from_sql_and_values(db.get_database_backend(), sql, [consumer.into(), id.clone().into()]);
        let row = db.query_one_raw(stmt).await.unwrap().unwrap();
        counts.push(row.try_get::<i64>("", "n").unwrap());
    }
    counts
}

async fn the_local_bus_applies_each_event_once_and_marks_rows_after_commit(backend: Backend) {
    let Some((_p, producer)) = database(backend, "local_once_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "local_once_consumer").await else {
        return;
    };
    let ids = produce(&producer, 5).await;
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: "tasks".into(),
        bindings: vec!["pipeline.deal.*".into()],
        db: consumer.clone(),
        handler: Recorder::new("tasks"),
    });
    bus.subscribe(Subscription {
        consumer: "other".into(),
        bindings: vec!["contacts.#".into()],
        db: consumer.clone(),
        handler: Recorder::new("other"),
    });
    let relay = Relay::new(producer.clone(), Arc::new(bus.clone()));
    assert_eq!(relay.publish_pending().await.unwrap(), 5);
    assert_eq!(pending(&producer).await.unwrap(), 0);
    assert_eq!(applied(&consumer, "tasks", &ids).await, [1; 5]);
    assert_eq!(
        applied(&consumer, "other", &ids).await,
        [0; 5],
        "bindings route like RabbitMQ"
    );

    // The same event again (a redelivery) changes nothing.
    let envelope = outbox::read_all(&producer).await.unwrap().remove(0);
    let again = Message {
        event_id: envelope.event_id.clone(),
        routing_key: envelope.r#type.clone(),
        body: prost::Message::encode_to_vec(&envelope),
    };
    bus.publish(&again).await.unwrap();
    assert_eq!(applied(&consumer, "tasks", &ids[..1]).await, [1]);
}

async fn a_failing_local_consumer_keeps_the_row_until_it_succeeds(backend: Backend) {
    let Some((_p, producer)) = database(backend, "local_retry_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "local_retry_consumer").await else {
        return;
    };
    let ids = produce(&producer, 2).await;
    let recorder = Recorder::new("tasks");
    recorder.fail_first.store(2, Ordering::SeqCst);
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: "tasks".into(),
        bindings: vec!["#".into()],
        db: consumer.clone(),
        handler: recorder,
    });
    let relay = Relay::new(producer.clone(), Arc::new(bus));
    assert!(relay.publish_pending().await.is_err());
    assert_eq!(
        pending(&producer).await.unwrap(),
        2,
        "nothing is marked sent before the consumer committed"
    );
    assert_eq!(
        applied(&consumer, "tasks", &ids).await,
        [0, 0],
        "the failed attempt rolled back"
    );
    assert!(relay.publish_pending().await.is_err());
    assert_eq!(relay.publish_pending().await.unwrap(), 2);
    assert_eq!(applied(&consumer, "tasks", &ids).await, [1, 1]);
}

async fn two_relays_on_one_database_publish_each_row_once(backend: Backend) {
    let Some((_p, producer)) = database(backend, "two_relays_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "two_relays_consumer").await else {
        return;
    };
    let ids = produce(&producer, 200).await;
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: "tasks".into(),
        bindings: vec!["#".into()],
        db: consumer.clone(),
        handler: Recorder::new("tasks"),
    });
    let (a, b) = (
        Relay::new(producer.clone(), Arc::new(bus.clone())),
        Relay::new(producer.clone(), Arc::new(bus.clone())),
    );
    let (na, nb) = tokio::join!(a.publish_pending(), b.publish_pending());
    assert_eq!(na.unwrap() + nb.unwrap(), 200, "no row was published twice");
    assert_eq!(applied(&consumer, "tasks", &ids).await, vec![1; 200]);
}

/// Writes an event of its own for each event it handles, as the tasks
/// service does when a rule fires.
struct Forwarder;

#[tonic::async_trait]
impl Handler for Forwarder {
    async fn handle(&self, txn: &DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()> {
        let caller = Caller {
            user_id: "automation".into(),
            tenant_id: event.tenant_id.clone(),
            roles: vec![],
            token: String::new(),
        };
        let payload = DealDeleted {
            deal_id: event.aggregate_id.clone(),
            ..Default::default()
        };
        let next = Event {
            event_type: "tasks.task.created",
            aggregate_id: "t1",
            aggregate_version: 1,
            payload: &payload,
        };
        outbox::append(txn, &caller, next).await?;
        Ok(())
    }
}

async fn one_trace_runs_from_the_writer_through_the_consumer_to_what_it_writes(backend: Backend) {
    let Some((_p, producer)) = database(backend, "trace_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "trace_consumer").await else {
        return;
    };
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = crm_kit::trace::TraceContext::from_parts(Some(traceparent), None);
    context.scope(tracing::Span::none(), produce(&producer, 1)).await;
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: "tasks".into(),
        bindings: vec!["#".into()],
        db: consumer.clone(),
        handler: Arc::new(Forwarder),
    });
    Relay::new(producer.clone(), Arc::new(bus))
        .publish_pending()
        .await
        .unwrap();
    let written = outbox::read_all(&producer).await.unwrap();
    assert_eq!(written[0].trace_context.as_ref().unwrap().traceparent, traceparent);
    let downstream = outbox::read_all(&consumer).await.unwrap();
    let trace = downstream[0].trace_context.as_ref().unwrap().traceparent.clone();
    assert_eq!(
        &trace[3..35],
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "the consumer's own event is in the same trace"
    );
}

async fn a_poison_event_counts_its_retries_then_its_dead_letter_and_is_published(backend: Backend) {
    use crm_kit::{bus::local::MAX_ATTEMPTS, testing::sample};
    let Some((_p, producer)) = database(backend, "local_metrics_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "local_metrics_consumer").await else {
        return;
    };
    // Labels of this test alone: the registry is the whole test process's.
    let (service, consumer_name) = match backend {
        Backend::Sqlite => ("metrics-producer-sqlite", "metrics-consumer-sqlite"),
        Backend::Postgres => ("metrics-producer-pg", "metrics-consumer-pg"),
    };
    let ids = produce(&producer, 1).await;
    let recorder = Recorder::new(consumer_name);
    *recorder.poison.lock().unwrap() = Some(ids[0].clone());
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: consumer_name.into(),
        bindings: vec!["#".into()],
        db: consumer.clone(),
        handler: recorder,
    });
    let relay = Relay::new(producer.clone(), Arc::new(bus)).named(service);
    for _ in 1..MAX_ATTEMPTS {
        assert!(relay.publish_pending().await.is_err());
    }
    assert_eq!(
        relay.publish_pending().await.unwrap(),
        1,
        "dead-lettered, the row is done"
    );

    let text = crm_kit::metrics::render();
    let of = |name, service| {
        sample(
            &text,
            name,
            &[("service", service), ("event_type", "pipeline.deal.deleted")],
        )
    };
    assert_eq!(
        of("crm_events_retried_total", consumer_name),
        f64::from(MAX_ATTEMPTS - 1),
        "{text}"
    );
    assert_eq!(of("crm_events_dead_lettered_total", consumer_name), 1.0);
    assert_eq!(
        of("crm_events_consumed_total", consumer_name),
        0.0,
        "it never committed"
    );
    assert_eq!(of("crm_events_published_total", service), 1.0);
}

async fn a_listener_hears_each_event_once_its_consumers_committed_it(backend: Backend) {
    let Some((_p, producer)) = database(backend, "local_listener_producer").await else {
        return;
    };
    let Some((_c, consumer)) = database(backend, "local_listener_consumer").await else {
        return;
    };
    let ids = produce(&producer, 2).await;
    let recorder = Recorder::new("tasks");
    recorder.fail_first.store(1, Ordering::SeqCst);
    let bus = LocalBus::new();
    bus.subscribe(Subscription {
        consumer: "tasks".into(),
        bindings: vec!["#".into()],
        db: consumer.clone(),
        handler: recorder,
    });
    let heard = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (deals, others) = (heard.clone(), heard.clone());
    bus.listen(
        vec!["pipeline.deal.*".into()],
        Arc::new(move |e: EventEnvelope| deals.lock().unwrap().push(e.event_id)),
    );
    bus.listen(
        vec!["contacts.#".into()],
        Arc::new(move |e: EventEnvelope| others.lock().unwrap().push(format!("contacts {}", e.event_id))),
    );
    let relay = Relay::new(producer.clone(), Arc::new(bus));
    assert!(relay.publish_pending().await.is_err());
    assert!(
        heard.lock().unwrap().is_empty(),
        "nothing is heard before the consumer committed"
    );
    assert_eq!(relay.publish_pending().await.unwrap(), 2);
    assert_eq!(
        *heard.lock().unwrap(),
        ids,
        "each event once, in order, by the listener it binds"
    );
}

crm_kit::backend_tests!(
    a_listener_hears_each_event_once_its_consumers_committed_it,
    one_trace_runs_from_the_writer_through_the_consumer_to_what_it_writes,
    the_local_bus_applies_each_event_once_and_marks_rows_after_commit,
    a_failing_local_consumer_keeps_the_row_until_it_succeeds,
    two_relays_on_one_database_publish_each_row_once,
    a_poison_event_counts_its_retries_then_its_dead_letter_and_is_published,
);

#[path = "bus/rabbitmq.rs"]
mod rabbitmq;
