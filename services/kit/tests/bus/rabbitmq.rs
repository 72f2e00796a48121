//! The same guarantees through a real RabbitMQ: each test has its own
//! exchange and queues (see `TestBroker`), so tests never see each other's
//! messages. The database side is SQLite here; it is not what is tested.

use std::{sync::Arc, time::Duration};

use crm_kit::{
    bus::{
        Message, Publisher,
        amqp::{AmqpConfig, AmqpPublisher},
        dlq::DeadLetters,
        relay::{Relay, pending},
    },
    testing::{Backend, TestBroker},
};
use lapin::{options::QueueDeclareOptions, types::FieldTable};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

use super::{Recorder, applied, database, produce};

/// Runs `consumer` in the background until the returned sender is dropped.
fn spawn_consumer(
    consumer: crm_kit::bus::amqp::AmqpConsumer,
    db: DatabaseConnection,
    handler: Arc<Recorder>,
) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(consumer.run(db, handler, async {
        let _ = stopped.await;
    }));
    stop
}

/// Waits (up to 30 s) until every id in `ids` was applied once.
async fn wait_applied(db: &DatabaseConnection, consumer: &str, ids: &[String]) -> Vec<i64> {
    for _ in 0..300 {
        let counts = applied(db, consumer, ids).await;
        if counts.iter().all(|n| *n >= 1) {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    applied(db, consumer, ids).await
}

/// Messages waiting in `queue`.
async fn depth(config: &AmqpConfig, queue: &str) -> u32 {
    let conn = lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        durable: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap();
    q.message_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_relayed_through_rabbitmq_are_applied_exactly_once() {
    let Some(broker) = TestBroker::create("rabbitmq_exactly_once") else {
        return;
    };
    let Some((_p, producer)) = database(Backend::Sqlite, "amqp_producer").await else {
        return;
    };
    let Some((_c, consumer_db)) = database(Backend::Sqlite, "amqp_consumer").await else {
        return;
    };
    let consumer = broker.consumer("tasks", &["pipeline.deal.*"]);
    let _stop = spawn_consumer(consumer, consumer_db.clone(), Recorder::new("tasks"));
    tokio::time::sleep(Duration::from_millis(500)).await; // the queue exists before anything is published

    let ids = produce(&producer, 50).await;
    let publisher = Arc::new(AmqpPublisher::new(broker.config.clone()));
    assert_eq!(
        Relay::new(producer.clone(), publisher.clone())
            .publish_pending()
            .await
            .unwrap(),
        50
    );
    assert_eq!(pending(&producer).await.unwrap(), 0);
    assert_eq!(wait_applied(&consumer_db, "tasks", &ids).await, vec![1; 50]);

    // Every event delivered a second time changes nothing.
    for envelope in crm_kit::outbox::read_all(&producer).await.unwrap() {
        let body = prost::Message::encode_to_vec(&envelope);
        publisher
            .publish(&Message {
                event_id: envelope.event_id,
                routing_key: envelope.r#type,
                body,
            })
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        depth(&broker.config, &broker.config.queue("tasks")).await,
        0,
        "the duplicates were consumed"
    );
    assert_eq!(applied(&consumer_db, "tasks", &ids).await, vec![1; 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_next_one_still_processed() {
    let Some(broker) = TestBroker::create("rabbitmq_poison") else {
        return;
    };
    let Some((_p, producer)) = database(Backend::Sqlite, "poison_producer").await else {
        return;
    };
    let Some((_c, consumer_db)) = database(Backend::Sqlite, "poison_consumer").await else {
        return;
    };
    let ids = produce(&producer, 2).await;
    let before = crm_kit::metrics::render();
    let recorder = Arc::new(Recorder {
        consumer: "tasks",
        fail_first: 0.into(),
        poison: std::sync::Mutex::new(Some(ids[0].clone())),
    });
    let _stop = spawn_consumer(broker.consumer("tasks", &["#"]), consumer_db.clone(), recorder.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let publisher = AmqpPublisher::new(broker.config.clone());
    let garbage = Message {
        event_id: "garbage".into(),
        routing_key: "pipeline.deal.won".into(),
        body: vec![0xff, 0x01, 0x02],
    };
    publisher.publish(&garbage).await.unwrap();
    Relay::new(producer.clone(), Arc::new(publisher))
        .publish_pending()
        .await
        .unwrap();

    let counts = wait_applied(&consumer_db, "tasks", &ids[1..]).await;
    assert_eq!(counts, [1], "the good event after the poison ones was applied");
    let dlq = broker.config.dead_letter_queue("tasks");
    let mut in_dlq = 0;
    for _ in 0..100 {
        in_dlq = depth(&broker.config, &dlq).await;
        if in_dlq == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        in_dlq, 2,
        "the undecodable message and the always-failing event are dead-lettered"
    );
    // The consumer counted both (other tests share the labels: at least one more each).
    let after = crm_kit::metrics::render();
    let count = |text: &str, name, event_type| {
        crm_kit::testing::sample(text, name, &[("service", "tasks"), ("event_type", event_type)])
    };
    for (name, event_type) in [
        ("crm_events_dead_lettered_total", "pipeline.deal.won"),
        ("crm_events_dead_lettered_total", "pipeline.deal.deleted"),
        ("crm_events_retried_total", "pipeline.deal.deleted"),
    ] {
        assert!(
            count(&after, name, event_type) > count(&before, name, event_type),
            "{name} {event_type}:\n{after}"
        );
    }
    assert_eq!(
        applied(&consumer_db, "tasks", &ids[..1]).await,
        [0],
        "the failing event never committed"
    );

    // What an operator does next (`crm dlq`): look, fix, replay, drop.
    let letters = DeadLetters::new(broker.config.clone(), "tasks");
    let listed = letters.list().await.unwrap();
    let mut seen: Vec<(&str, &str)> = listed.iter().map(|l| (l.event_id(), l.reason.as_str())).collect();
    seen.sort_unstable();
    // The undecodable one was rejected at once; the failing one ran out of deliveries.
    assert_eq!(
        seen,
        [("", "rejected"), (ids[0].as_str(), "delivery_limit")],
        "{listed:?}"
    );
    assert!(listed.iter().all(|l| l.deaths >= 1 && l.bytes > 0));
    assert_eq!(depth(&broker.config, &dlq).await, 2, "listing leaves them in place");
    // The cause is fixed: the event now applies.
    *recorder.poison.lock().unwrap() = None;
    assert_eq!(letters.replay(Some(&ids[0])).await.unwrap(), 1);
    assert_eq!(
        wait_applied(&consumer_db, "tasks", &ids[..1]).await,
        [1],
        "replayed once, applied once"
    );
    let left = letters.list().await.unwrap();
    assert_eq!(left.len(), 1, "only the undecodable message is left: {left:?}");
    assert!(left[0].event.is_none());
    assert_eq!(letters.purge().await.unwrap(), 1);
    assert!(letters.list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_rows_while_the_broker_is_unreachable() {
    let Some(broker) = TestBroker::create("rabbitmq_unreachable") else {
        return;
    };
    let Some((_p, producer)) = database(Backend::Sqlite, "unreachable_producer").await else {
        return;
    };
    let ids = produce(&producer, 3).await;
    let nowhere = AmqpConfig {
        url: "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        ..broker.config.clone()
    };
    let err = Relay::new(producer.clone(), Arc::new(AmqpPublisher::new(nowhere)))
        .publish_pending()
        .await;
    assert!(err.is_err());
    assert_eq!(
        pending(&producer).await.unwrap(),
        3,
        "rows stay while the broker is unreachable"
    );
    let relay = Relay::new(producer.clone(), Arc::new(AmqpPublisher::new(broker.config.clone())));
    assert_eq!(relay.publish_pending().await.unwrap(), ids.len());
    assert_eq!(pending(&producer).await.unwrap(), 0);
}
