//! A RabbitMQ namespace per test, and waiting for a consumer's queue.

use std::io::Write;

use uuid::Uuid;

/// A RabbitMQ namespace of one test: its own exchange and queue prefix on
/// the broker of `CRM_TEST_AMQP_URL`, deleted when dropped.
pub struct TestBroker {
    /// The names to use.
    pub config: crate::bus::amqp::AmqpConfig,
    services: std::sync::Mutex<Vec<String>>,
}

impl TestBroker {
    /// A fresh namespace, or `None` (announced) when `CRM_TEST_AMQP_URL` is
    /// unset outside CI; under CI=true it panics instead.
    pub fn create(test: &str) -> Option<Self> {
        let url = match std::env::var("CRM_TEST_AMQP_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but CRM_TEST_AMQP_URL is not set: the RabbitMQ half must run in CI")
            }
            _ => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED (RabbitMQ half): {test}: set CRM_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f to run it"
                );
                return None;
            }
        };
        let ns = format!("test.{}", Uuid::now_v7().simple());
        let config = crate::bus::amqp::AmqpConfig {
            url,
            exchange: format!("{ns}.events"),
            queue_prefix: ns,
        };
        Some(Self {
            config,
            services: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Registers the queues of `services` (declared by whatever the test
    /// runs) to be deleted with the namespace.
    pub fn will_hold(&self, services: &[&str]) {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(services.iter().map(|s| (*s).to_owned()));
    }

    /// A consumer of `service` in this namespace (its queues are deleted with it).
    pub fn consumer(&self, service: &str, bindings: &[&str]) -> crate::bus::amqp::AmqpConsumer {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(service.to_owned());
        crate::bus::amqp::AmqpConsumer::new(self.config.clone(), service, bindings)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let config = self.config.clone();
        let mut services = std::mem::take(&mut *self.services.lock().unwrap_or_else(|e| e.into_inner()));
        services.sort();
        services.dedup();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
                let Ok(conn) = lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default()).await
                else {
                    return;
                };
                let Ok(ch) = conn.create_channel().await else { return };
                for s in &services {
                    for q in [config.queue(s), config.dead_letter_queue(s)] {
                        let _ = ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
                    }
                }
                for x in [config.exchange.clone(), config.dead_letter_exchange()] {
                    let _ = ch
                        .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
                let _ = conn.close(200, "test done".into()).await;
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// Waits (up to 20 s) until `queue` exists on the broker at `url`: the
/// consumer declared its topology, so what is published from now on reaches it.
pub async fn wait_queue(url: &str, queue: &str) {
    use lapin::{options::QueueDeclareOptions, types::FieldTable};
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .expect("the test broker answers");
    for _ in 0..200 {
        let ch = conn.create_channel().await.expect("a channel");
        let passive = QueueDeclareOptions {
            passive: true,
            durable: true,
            ..Default::default()
        };
        if ch
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("queue {queue} was never declared");
}
