//! RabbitMQ through lapin: the publisher (persistent messages, publisher
//! confirms, reconnecting by itself) and the [`consumer`] (one durable
//! quorum queue per consuming service with a dead-letter queue, bounded
//! prefetch, reconnecting by itself).

mod consumer;

use crm_proto::events::v1::EventEnvelope;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions},
    types::{AMQPValue, FieldTable},
};
use prost::Message as _;
use tokio::sync::Mutex;

pub use self::consumer::{AmqpConsumer, declare_consumers};
use super::{EXCHANGE, Message, PublishError, Publisher};

/// Where the broker is and how the suite's names are spelled there.
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:5672/vhost`.
    pub url: String,
    /// The topic exchange (`crm.events`).
    pub exchange: String,
    /// The prefix of queue names (`crm`): queues are `<prefix>.<service>.events`.
    pub queue_prefix: String,
}

impl AmqpConfig {
    /// The production names at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            exchange: EXCHANGE.to_owned(),
            queue_prefix: "crm".to_owned(),
        }
    }

    /// The queue of consuming service `service`.
    pub fn queue(&self, service: &str) -> String {
        format!("{}.{service}.events", self.queue_prefix)
    }

    /// Its dead-letter queue.
    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}.dlq", self.queue(service))
    }

    /// The dead-letter exchange.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.exchange)
    }
}

pub(super) async fn connect(url: &str) -> lapin::Result<Connection> {
    Connection::connect(url, ConnectionProperties::default()).await
}

pub(super) async fn declare_exchange(channel: &Channel, name: &str, kind: ExchangeKind) -> lapin::Result<()> {
    // Durable: the exchange survives a broker restart.
    let options = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(name.into(), kind, options, FieldTable::default())
        .await
}

/// Publishes with confirms on one channel, reconnecting when it broke.
pub struct AmqpPublisher {
    config: AmqpConfig,
    channel: Mutex<Option<(Connection, Channel)>>,
}

impl AmqpPublisher {
    /// A publisher that connects on first use.
    pub fn new(config: AmqpConfig) -> Self {
        Self {
            config,
            channel: Mutex::new(None),
        }
    }

    async fn open(&self) -> lapin::Result<(Connection, Channel)> {
        let conn = connect(&self.config.url).await?;
        let channel = conn.create_channel().await?;
        // Confirms: the broker acks each message once it is safely queued.
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        declare_exchange(&channel, &self.config.exchange, ExchangeKind::Topic).await?;
        Ok((conn, channel))
    }
}

fn properties(message: &Message) -> BasicProperties {
    // The trace context also travels as AMQP headers, for tools that read
    // headers rather than the envelope.
    let mut headers = FieldTable::default();
    if let Some(tc) = EventEnvelope::decode(message.body.as_slice())
        .ok()
        .and_then(|e| e.trace_context)
    {
        headers.insert(
            "traceparent".into(),
            AMQPValue::LongString(tc.traceparent.as_str().into()),
        );
        if !tc.tracestate.is_empty() {
            headers.insert(
                "tracestate".into(),
                AMQPValue::LongString(tc.tracestate.as_str().into()),
            );
        }
    }
    BasicProperties::default()
        .with_headers(headers)
        // Persistent: the message survives a broker restart.
        .with_delivery_mode(2)
        .with_content_type("application/protobuf".into())
        .with_message_id(message.event_id.as_str().into())
        .with_type(message.routing_key.as_str().into())
}

#[tonic::async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        match self.publish_many(std::slice::from_ref(message)).await {
            (1, _) => Ok(()),
            (_, e) => Err(e.unwrap_or(PublishError::Nacked)),
        }
    }

    fn system(&self) -> &'static str {
        "rabbitmq"
    }

    async fn publish_many(&self, messages: &[Message]) -> (usize, Option<PublishError>) {
        let mut slot = self.channel.lock().await;
        let usable = slot
            .as_ref()
            .is_some_and(|(conn, ch)| conn.status().connected() && ch.status().connected());
        if !usable {
            match self.open().await {
                Ok(opened) => *slot = Some(opened),
                Err(e) => return (0, Some(PublishError::Unavailable(e.to_string()))),
            }
        }
        let Some((_, channel)) = slot.as_ref() else {
            return (0, Some(PublishError::Unavailable("no channel".into())));
        };
        // Everything is sent first, then the confirms are awaited in order:
        // one round trip per batch instead of one per message. A publish
        // hands its frames to lapin's I/O loop on its first poll and then
        // waits for them to be written; `join_all` of up to 30 futures polls
        // them in order, so a group is queued in order and waited for once.
        let mut confirms = Vec::with_capacity(messages.len());
        let mut failure = None;
        'send: for group in messages.chunks(PUBLISH_GROUP) {
            let sends = group.iter().map(|message| {
                channel.basic_publish(
                    self.config.exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    properties(message),
                )
            });
            for sent in futures_util::future::join_all(sends).await {
                match sent {
                    Ok(confirm) => confirms.push(confirm),
                    Err(e) => {
                        failure = Some(PublishError::Unavailable(e.to_string()));
                        break 'send;
                    }
                }
            }
        }
        let mut confirmed = 0;
        for confirm in confirms {
            match confirm.await {
                Ok(c) if c.is_ack() => confirmed += 1,
                Ok(_) => {
                    failure = Some(PublishError::Nacked);
                    break;
                }
                Err(e) => {
                    failure = Some(PublishError::Unavailable(e.to_string()));
                    break;
                }
            }
        }
        if matches!(failure, Some(PublishError::Unavailable(_))) {
            *slot = None;
        }
        (confirmed, failure)
    }
}

/// Publishes queued at once (at most 30: `join_all` polls that many in order).
const PUBLISH_GROUP: usize = 25;

/// An AMQP header's integer value, whichever width the broker chose.
pub(super) fn integer(value: &AMQPValue) -> Option<i64> {
    match *value {
        AMQPValue::LongLongInt(n) => Some(n),
        AMQPValue::LongInt(n) => Some(i64::from(n)),
        AMQPValue::LongUInt(n) => Some(i64::from(n)),
        AMQPValue::ShortInt(n) => Some(i64::from(n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(n)),
        _ => None,
    }
}
