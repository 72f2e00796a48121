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
    /// another (the default); a handler may do it in fewer statements.
    async fn handle_batch(&self, txn: &sea_orm::DatabaseTransaction, events: &[&EventEnvelope]) -> anyhow::Result<()> {
        for e in events {
            self.handle(txn, e).await?;
        }
        Ok(())
    }
}

/// The trace context an event was written under (a new trace if none),
/// and the span its handling runs in.
pub fn event_trace(event: &EventEnvelope, consumer: &str) -> (crate::trace::TraceContext, tracing::Span) {
    let tc = event.trace_context.as_ref();
    let context =
        crate::trace::TraceContext::from_parts(tc.map(|t| t.traceparent.as_str()), tc.map(|t| t.tracestate.as_str()));
    let span = tracing::info_span!(
        "event",
        consumer,
        r#type = %event.r#type,
        event_id = %event.event_id,
        trace_id = tracing::field::Empty
    );
    (context, span)
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
