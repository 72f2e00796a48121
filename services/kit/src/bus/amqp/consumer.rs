//! The consumer: one durable quorum queue per consuming service, with its
//! dead-letter queue; deliveries applied once each through the inbox, in
//! small batches, and acked after commit.

use std::{sync::Arc, time::Duration};

use crm_proto::events::v1::EventEnvelope;
use futures_util::{StreamExt, TryStreamExt};
use lapin::{
    Channel, ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use prost::Message as _;
use sea_orm::DatabaseConnection;

use super::{AmqpConfig, connect, declare_exchange, integer};
use crate::bus::{Handler, inbox};

/// Deliveries applied in one transaction at most.
const BATCH: usize = 16;

/// One consuming service's subscription on RabbitMQ.
#[derive(Clone)]
pub struct AmqpConsumer {
    /// Broker and names.
    pub config: AmqpConfig,
    /// The consuming service (names its queue and its inbox rows).
    pub service: String,
    /// The routing-key patterns to bind, e.g. `pipeline.deal.*`.
    pub bindings: Vec<String>,
    /// Unacknowledged messages the broker may push at once.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub delivery_limit: i64,
}

/// Declares the durable queues (with their dead-letter queues and
/// bindings) of `consumers` (name, bindings): what any service of the suite
/// does before its relay publishes, so that an event is never published
/// before the queue of a consumer that binds it exists (a broker drops
/// what no queue binds: on a fresh broker, or after a restore onto one,
/// the first events would otherwise be lost for consumers not yet started).
/// Tries for up to `patience` while the broker is unreachable.
pub async fn declare_consumers(
    config: &AmqpConfig,
    consumers: &[(&str, &[&str])],
    patience: Duration,
) -> lapin::Result<()> {
    let until = tokio::time::Instant::now() + patience;
    loop {
        let attempt = async {
            let conn = connect(&config.url).await?;
            let channel = conn.create_channel().await?;
            for (name, bindings) in consumers {
                AmqpConsumer::new(config.clone(), name, bindings)
                    .declare(&channel)
                    .await?;
            }
            conn.close(0, "declared".into()).await
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= until => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "declaring the consumers' queues; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

impl AmqpConsumer {
    /// A consumer with a prefetch of 64 and a delivery limit of 5.
    pub fn new(config: AmqpConfig, service: &str, bindings: &[&str]) -> Self {
        Self {
            config,
            service: service.to_owned(),
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
            prefetch: 64,
            delivery_limit: 5,
        }
    }

    /// Declares the exchanges, the queue with its dead-letter queue, and the bindings.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let (queue, dlq, dlx) = (
            self.config.queue(&self.service),
            self.config.dead_letter_queue(&self.service),
            self.config.dead_letter_exchange(),
        );
        declare_exchange(channel, &self.config.exchange, ExchangeKind::Topic).await?;
        declare_exchange(channel, &dlx, ExchangeKind::Direct).await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let mut quorum = FieldTable::default();
        // Quorum queues are replicated and count deliveries, which bounds retries.
        quorum.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        channel
            .queue_declare(dlq.as_str().into(), durable, quorum.clone())
            .await?;
        channel
            .queue_bind(
                dlq.as_str().into(),
                dlx.as_str().into(),
                queue.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut args = quorum;
        // A message that cannot be decoded, or fails `delivery_limit` times, goes here.
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(dlx.as_str().into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.as_str().into()),
        );
        args.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(self.delivery_limit));
        channel.queue_declare(queue.as_str().into(), durable, args).await?;
        for key in &self.bindings {
            let (q, x) = (queue.as_str().into(), self.config.exchange.as_str().into());
            channel
                .queue_bind(
                    q,
                    x,
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Consumes until `shutdown` resolves, reconnecting with backoff after
    /// the broker went away. Each event is applied once with `handler` on
    /// `db`, then acked.
    pub async fn run(
        self,
        db: DatabaseConnection,
        handler: Arc<dyn Handler>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                result = self.consume(&db, handler.as_ref()) => {
                    if let Err(e) = result {
                        tracing::warn!(service = %self.service, error = %e, retry_in = ?backoff, "event consumer disconnected");
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn consume(&self, db: &DatabaseConnection, handler: &dyn Handler) -> lapin::Result<()> {
        let conn = connect(&self.config.url).await?;
        let channel = conn.create_channel().await?;
        self.declare(&channel).await?;
        // Bounded prefetch: a slow consumer holds at most this many messages.
        channel.basic_qos(self.prefetch, BasicQosOptions::default()).await?;
        let queue = self.config.queue(&self.service);
        let tag = format!("{}-{}", self.service, crate::validate::new_id());
        let deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %queue, "consuming events");
        // The deliveries ready together (up to BATCH) are applied in one
        // transaction, and up to `prefetch / BATCH` such batches at once:
        // handlers are idempotent and order-tolerant, and a batch that
        // fails (a conflict with another, or one bad event) is applied
        // again event by event.
        let batches = usize::from(self.prefetch.max(1)).div_ceil(BATCH);
        deliveries
            .ready_chunks(BATCH)
            .map(|chunk| chunk.into_iter().collect::<lapin::Result<Vec<Delivery>>>())
            .try_for_each_concurrent(batches, |chunk| self.process_batch(db, handler, chunk))
            .await
    }

    /// Applies `deliveries` in one transaction, or one by one if that fails.
    async fn process_batch(
        &self,
        db: &DatabaseConnection,
        handler: &dyn Handler,
        deliveries: Vec<Delivery>,
    ) -> lapin::Result<()> {
        let mut decoded = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match EventEnvelope::decode(delivery.data.as_slice()) {
                Ok(event) => decoded.push((delivery, event)),
                Err(_) => {
                    tracing::error!(service = %self.service, "undecodable message dead-lettered");
                    crate::metrics::event_dead_lettered(&self.service, delivery.routing_key.as_str());
                    delivery
                        .nack(BasicNackOptions {
                            requeue: false,
                            ..Default::default()
                        })
                        .await?;
                }
            }
        }
        if decoded.len() > 1 {
            // In record order, so that concurrent batches take row locks in
            // one order (the sort is stable: a record's events keep theirs).
            decoded.sort_by(|a, b| a.1.aggregate_id.cmp(&b.1.aggregate_id));
            let events: Vec<&EventEnvelope> = decoded.iter().map(|(_, e)| e).collect();
            match inbox::apply_batch(db, &self.service, &events, handler).await {
                Ok(_) => {
                    // The acks go out together (each waits for lapin's I/O loop).
                    let acks = decoded.iter().map(|(d, _)| d.ack(BasicAckOptions::default()));
                    for acked in futures_util::future::join_all(acks).await {
                        acked?;
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::debug!(service = %self.service, error = format!("{e:#}"), "batch failed; applying its events one by one");
                }
            }
        }
        for (delivery, event) in decoded {
            self.process(db, handler, delivery, event).await?;
        }
        Ok(())
    }

    async fn process(
        &self,
        db: &DatabaseConnection,
        handler: &dyn Handler,
        delivery: Delivery,
        event: EventEnvelope,
    ) -> lapin::Result<()> {
        let (context, span) = crate::bus::event_trace(&event, &self.service, "rabbitmq");
        match context
            .scope(span, inbox::apply_once(db, &self.service, &event, handler))
            .await
        {
            Ok(applied) => {
                tracing::debug!(event_id = %event.event_id, r#type = %event.r#type, ?applied, "event consumed");
                delivery.ack(BasicAckOptions::default()).await.map(drop)
            }
            Err(e) => {
                tracing::warn!(event_id = %event.event_id, error = format!("{e:#}"), "event failed; requeued");
                // The broker dead-letters it once it came back more than the limit.
                if returns(&delivery) + 1 > self.delivery_limit {
                    crate::metrics::event_dead_lettered(&self.service, &event.r#type);
                } else {
                    crate::metrics::event_retried(&self.service, &event.r#type);
                }
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .map(drop)
            }
        }
    }
}

/// How often the broker got `delivery` back before (a quorum queue's
/// `x-delivery-count`; absent on the first delivery).
fn returns(delivery: &Delivery) -> i64 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").and_then(integer))
        .unwrap_or(0)
}
