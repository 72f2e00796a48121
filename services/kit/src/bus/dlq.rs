//! Dead letters: the events a consumer gave up on (undecodable, or failed
//! its delivery limit), kept in `crm.<service>.events.dlq`. Operators list
//! them, look at one, send them back to the service's queue once the cause
//! is fixed, or drop them (`crm dlq ...`).

use anyhow::Context;
use crm_proto::events::v1::EventEnvelope;
use lapin::{
    BasicProperties, Channel, Connection,
    message::Delivery,
    options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueuePurgeOptions},
    types::{AMQPValue, FieldTable},
};
use prost::Message as _;

use super::amqp::AmqpConfig;

/// One dead letter, as far as it can be read.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The event, if the message decodes as one.
    pub event: Option<EventEnvelope>,
    /// The routing key it reached the dead-letter queue with.
    pub routing_key: String,
    /// Why it was dead-lettered (`delivery_limit`, `rejected`, ...).
    pub reason: String,
    /// How many times it was dead-lettered.
    pub deaths: i64,
    /// Its size in bytes.
    pub bytes: usize,
}

impl DeadLetter {
    /// Its event id, or "" when it is not an event.
    pub fn event_id(&self) -> &str {
        self.event.as_ref().map_or("", |e| e.event_id.as_str())
    }

    fn read(delivery: &Delivery) -> Self {
        let event = EventEnvelope::decode(delivery.data.as_slice())
            .ok()
            .filter(|e| !e.event_id.is_empty());
        let (reason, deaths) = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-death").cloned())
            .and_then(|d| match d {
                AMQPValue::FieldArray(deaths) => deaths.as_slice().first().cloned(),
                _ => None,
            })
            .and_then(|first| match first {
                AMQPValue::FieldTable(t) => Some(t),
                _ => None,
            })
            .map_or((String::new(), 0), |t| {
                let reason = match t.inner().get("reason") {
                    Some(AMQPValue::LongString(s)) => s.to_string(),
                    Some(AMQPValue::ShortString(s)) => s.to_string(),
                    _ => String::new(),
                };
                let deaths = t.inner().get("count").and_then(super::amqp::integer).unwrap_or(1);
                (reason, deaths)
            });
        Self {
            event,
            routing_key: delivery.routing_key.to_string(),
            reason,
            deaths,
            bytes: delivery.data.len(),
        }
    }
}

/// The dead letters of one consuming service.
pub struct DeadLetters {
    config: AmqpConfig,
    service: String,
}

impl DeadLetters {
    /// The dead letters of `service` on the broker of `config`.
    pub fn new(config: AmqpConfig, service: &str) -> Self {
        Self {
            config,
            service: service.to_owned(),
        }
    }

    async fn open(&self) -> anyhow::Result<(Connection, Channel)> {
        let conn = super::amqp::connect(&self.config.url)
            .await
            .context("connecting to RabbitMQ")?;
        let channel = conn.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok((conn, channel))
    }

    /// Takes every dead letter without acking it: each stays in the queue
    /// (it goes back when the channel closes) unless acked.
    async fn take_all(&self, channel: &Channel) -> anyhow::Result<Vec<Delivery>> {
        let queue = self.config.dead_letter_queue(&self.service);
        let mut taken = Vec::new();
        while let Some(got) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {queue}"))?
        {
            taken.push(got.delivery);
        }
        Ok(taken)
    }

    /// Every dead letter, oldest first; they all stay where they are.
    pub async fn list(&self) -> anyhow::Result<Vec<DeadLetter>> {
        let (conn, channel) = self.open().await?;
        let letters = self.take_all(&channel).await?.iter().map(DeadLetter::read).collect();
        // Closing without acks puts every one back.
        let _ = conn.close(200, "listed".into()).await;
        Ok(letters)
    }

    /// Sends the dead letters (all, or only the event `event_id`) back to
    /// the service's queue; each leaves the dead-letter queue only after the
    /// broker confirmed its copy. The consumer applies each once (its inbox
    /// knows the event ids it applied). Returns how many were sent.
    pub async fn replay(&self, event_id: Option<&str>) -> anyhow::Result<usize> {
        let (conn, channel) = self.open().await?;
        let queue = self.config.queue(&self.service);
        let mut sent = 0;
        for delivery in self.take_all(&channel).await? {
            let letter = DeadLetter::read(&delivery);
            if event_id.is_some_and(|id| id != letter.event_id()) {
                continue;
            }
            // Straight to the service's queue (the default exchange routes
            // by queue name), so no other consumer sees it again.
            let mut headers = FieldTable::default();
            headers.insert("x-crm-replayed".into(), AMQPValue::Boolean(true));
            let properties = BasicProperties::default()
                .with_content_type("application/protobuf".into())
                .with_delivery_mode(2)
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    properties,
                )
                .await?
                .await?;
            anyhow::ensure!(confirm.is_ack(), "the broker refused the copy of {}", letter.event_id());
            delivery.acker.ack(BasicAckOptions::default()).await?;
            sent += 1;
        }
        let _ = conn.close(200, "replayed".into()).await;
        Ok(sent)
    }

    /// Drops every dead letter; returns how many there were.
    pub async fn purge(&self) -> anyhow::Result<u32> {
        let (conn, channel) = self.open().await?;
        let queue = self.config.dead_letter_queue(&self.service);
        let dropped = channel
            .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
            .await
            .with_context(|| format!("purging {queue}"))?;
        let _ = conn.close(200, "purged".into()).await;
        Ok(dropped)
    }
}
