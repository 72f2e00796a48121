//! The in-process bus of `crm up`: publishing an event applies it to every
//! local consumer whose bindings match, each in its own database
//! transaction with its inbox row, and succeeds only after all of them
//! committed, so the relay marks the row sent only then.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use crm_proto::events::v1::EventEnvelope;
use prost::Message as _;
use sea_orm::DatabaseConnection;

use super::{Handler, Message, PublishError, Publisher, inbox, topic_matches};

/// One local consumer: its name, the routing-key patterns it binds, its
/// database and its handler.
#[derive(Clone)]
pub struct Subscription {
    /// The consumer's name (its inbox key), e.g. `tasks`.
    pub consumer: String,
    /// Topic patterns, as a RabbitMQ binding would take them.
    pub bindings: Vec<String>,
    /// The consumer's own database.
    pub db: DatabaseConnection,
    /// What it does with an event.
    pub handler: Arc<dyn Handler>,
}

/// What a listener is called with: every event it binds, once its
/// consumers committed it.
type OnEvent = Arc<dyn Fn(EventEnvelope) + Send + Sync>;

/// The listeners, each with the routing-key patterns it binds.
type Listeners = Vec<(Vec<String>, OnEvent)>;

/// The in-process bus.
#[derive(Clone, Default)]
pub struct LocalBus {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
    listeners: Arc<RwLock<Listeners>>,
    dead_letters: Arc<RwLock<Vec<Message>>>,
    failures: Arc<Mutex<HashMap<(String, String), u32>>>,
}

/// How often a local consumer may fail one event before it is
/// dead-lettered, so one poison event cannot stall the outbox forever.
pub const MAX_ATTEMPTS: u32 = 5;

impl LocalBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a consumer.
    pub fn subscribe(&self, subscription: Subscription) {
        self.subscriptions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(subscription);
    }

    /// Calls `on_event` with every event matching `bindings`, once every
    /// consumer committed it (as a replica's own queue would hear it).
    pub fn listen(&self, bindings: Vec<String>, on_event: OnEvent) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((bindings, on_event));
    }

    /// Messages that could not be decoded (the local dead-letter queue).
    pub fn dead_letters(&self) -> Vec<Message> {
        self.dead_letters.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[tonic::async_trait]
impl Publisher for LocalBus {
    async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        let Ok(event) = EventEnvelope::decode(message.body.as_slice()) else {
            tracing::error!(event_id = %message.event_id, "undecodable event dead-lettered");
            // No consumer had it yet: the bus itself gives up on it.
            crate::metrics::event_dead_lettered("local-bus", &message.routing_key);
            self.dead_letters
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(message.clone());
            return Ok(());
        };
        let targets: Vec<Subscription> = self
            .subscriptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.bindings.iter().any(|b| topic_matches(b, &message.routing_key)))
            .cloned()
            .collect();
        for s in targets {
            let (context, span) = super::event_trace(&event, &s.consumer, "crm.local");
            let applied = context
                .scope(span, inbox::apply_once(&s.db, &s.consumer, &event, s.handler.as_ref()))
                .await;
            if let Err(cause) = applied {
                let key = (s.consumer.clone(), event.event_id.clone());
                let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                let attempts = failures.entry(key.clone()).or_default();
                *attempts += 1;
                if *attempts < MAX_ATTEMPTS {
                    crate::metrics::event_retried(&s.consumer, &event.r#type);
                    return Err(PublishError::Consumer {
                        consumer: s.consumer.clone(),
                        cause,
                    });
                }
                failures.remove(&key);
                crate::metrics::event_dead_lettered(&s.consumer, &event.r#type);
                tracing::error!(consumer = %s.consumer, event_id = %event.event_id, error = format!("{cause:#}"), "event dead-lettered after {MAX_ATTEMPTS} failures");
                self.dead_letters
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(message.clone());
            }
        }
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner()).clone();
        for (bindings, on_event) in listeners {
            if bindings.iter().any(|b| topic_matches(b, &message.routing_key)) {
                on_event(event.clone());
            }
        }
        Ok(())
    }
}
