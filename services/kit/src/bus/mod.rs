//! The event bus: the outbox relay publishes each service's events, and
//! consumers apply them exactly once.
//!
//! Two implementations sit behind [`Publisher`]: RabbitMQ through lapin
//! ([`amqp`]: a topic exchange, publisher confirms, one quorum queue per
//! consuming service with a dead-letter queue) for production, and an
//! in-process bus ([`local`]) for `crm up`. Both keep one guarantee: an
//! outbox row is marked sent only after the broker confirmed it (or every
//! local consumer committed it), and a consumer records each event_id in
//! its `processed_events` table in the same transaction as the effect
//! ([`inbox`]), so a redelivered event changes nothing.

pub mod amqp;
pub mod dlq;
pub mod fanout;
pub mod inbox;
pub mod local;
pub mod relay;

use crm_proto::events::v1::EventEnvelope;

/// The topic exchange every event is published to.
pub const EXCHANGE: &str = "crm.events";

/// One event as the bus carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The envelope's event_id.
    pub event_id: String,
    /// The event type, which is also the routing key.
    pub routing_key: String,
    /// The encoded `crm.events.v1.EventEnvelope`.
    pub body: Vec<u8>,
}

/// Why a publish did not go through; the relay keeps the row and retries.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker is unreachable or the channel broke.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (a nack).
    #[error("broker refused the message")]
    Nacked,
    /// A local consumer failed to apply the event.
    #[error("local consumer {consumer} failed: {cause:#}")]
    Consumer {
        /// The consumer's name.
        consumer: String,
        /// What went wrong.
        cause: anyhow::Error,
    },
}

/// Publishes one message and returns only once it is safe to forget it.
#[tonic::async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes `message`: `Ok` means the broker confirmed it (or every
    /// local consumer committed it).
    async fn publish(&self, message: &Message) -> Result<(), PublishError>;

    /// The `messaging.system` that trace spans name: `rabbitmq`, or
    /// `crm.local` for the in-process bus.
    fn system(&self) -> &'static str {
        "crm.local"
    }

    /// Publishes `messages` in order and returns how many of them, from the
    /// first, are safe to forget, with the error that stopped the rest. A
    /// broker publisher sends them all before it waits for the confirms.
    async fn publish_many(&self, messages: &[Message]) -> (usize, Option<PublishError>) {
        for (i, m) in messages.iter().enumerate() {
            if let Err(e) = self.publish(m).await {
                return (i, Some(e));
            }
        }
        (messages.len(), None)
    }
}

/// Applies one event's effect inside the consumer's transaction; the inbox
/// records the event_id in that same transaction.
#[tonic::async_trait]
pub trait Handler: Send + Sync {
    /// Applies `event` on `txn`. An error rolls everything back and the
    /// event is retried (and dead-lettered after a bounded number of tries).
    async fn handle(&self, txn: &sea_orm::DatabaseTransaction, event: &EventEnvelope) -> anyhow::Result<()>;

    /// Applies `events` on `txn`, as [`Handler::handle`] would one after
    /// another (the default, each of a batch in its own event's trace);
    /// a handler may do it in fewer statements.
    async fn handle_batch(&self, txn: &sea_orm::DatabaseTransaction, events: &[&EventEnvelope]) -> anyhow::Result<()> {
        if let [one] = events {
            // A single event is applied inside its event's span already.
            return self.handle(txn, one).await;
        }
        for e in events {
            let (context, span) = event_trace(e, "", "");
            context.scope(span, self.handle(txn, e)).await?;
        }
        Ok(())
    }
}

/// The trace context an event was written under (a new trace if none),
/// and the span its handling by `consumer` runs in (`system` is the
/// `messaging.system`; empty ones are left out).
pub fn event_trace(event: &EventEnvelope, consumer: &str, system: &str) -> (crate::trace::TraceContext, tracing::Span) {
    let tc = event.trace_context.as_ref();
    let context =
        crate::trace::TraceContext::from_parts(tc.map(|t| t.traceparent.as_str()), tc.map(|t| t.tracestate.as_str()));
    let span = tracing::info_span!(
        "event",
        otel.name = %format!("process {}", event.r#type),
        otel.kind = "consumer",
        consumer = tracing::field::Empty,
        r#type = %event.r#type,
        event_id = %event.event_id,
        trace_id = tracing::field::Empty
    );
    if !consumer.is_empty() {
        span.record("consumer", consumer);
    }
    crate::trace::annotate(
        &span,
        [
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", event.r#type.as_str()),
            ("messaging.message.id", event.event_id.as_str()),
        ]
        .into_iter()
        .chain((!consumer.is_empty()).then_some(("messaging.consumer.group.name", consumer)))
        .chain((!system.is_empty()).then_some(("messaging.system", system))),
    );
    (context, span)
}

/// The spans of one batch the outbox relay publishes: one per event, each
/// a child of the context its event was written under.
pub struct PublishSpans(Vec<tracing::Span>);

impl PublishSpans {
    /// Opens the spans of `rows` (event id, event type, encoded envelope)
    /// published through `system`.
    pub fn open<'a>(rows: impl Iterator<Item = (&'a str, &'a str, &'a [u8])>, system: &str) -> Self {
        use prost::Message as _;
        let spans = rows
            .map(|(event_id, event_type, envelope)| {
                let span = tracing::info_span!(
                    "publish",
                    otel.name = %format!("publish {event_type}"),
                    otel.kind = "producer",
                    otel.status_code = tracing::field::Empty,
                    event_id,
                );
                crate::trace::annotate(
                    &span,
                    [
                        ("messaging.system", system),
                        ("messaging.operation.type", "send"),
                        ("messaging.destination.name", event_type),
                        ("messaging.message.id", event_id),
                    ],
                );
                if !span.is_disabled() {
                    let tc = EventEnvelope::decode(envelope).ok().and_then(|e| e.trace_context);
                    let parent = tc.and_then(|t| crate::trace::TraceContext::remote(&t.traceparent, &t.tracestate));
                    if let Some(parent) = parent {
                        parent.adopt(&span);
                    }
                }
                span
            })
            .collect();
        Self(spans)
    }

    /// Closes the spans once the first `confirmed` were confirmed; the
    /// rest end as errors.
    pub fn close(self, confirmed: usize) {
        for span in self.0.iter().skip(confirmed) {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Whether `routing_key` matches the AMQP topic `pattern` (`*` is one word,
/// `#` is zero or more words), so the in-process bus routes exactly as
/// RabbitMQ does.
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(w), Some(v)) if w == v => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = routing_key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn topic_patterns_match_as_rabbitmq_does() {
        assert!(topic_matches("pipeline.deal.*", "pipeline.deal.won"));
        assert!(!topic_matches("pipeline.deal.*", "pipeline.deal"));
        assert!(topic_matches("pipeline.#", "pipeline.deal.stage_changed"));
        assert!(topic_matches("#", "contacts.contact.deleted"));
        assert!(topic_matches("*.contact.deleted", "contacts.contact.deleted"));
        assert!(!topic_matches("contacts.*", "contacts.contact.deleted"));
        assert!(topic_matches("pipeline.#.won", "pipeline.won"));
    }
}
