//! Events that every replica of a service hears, not just one: each
//! replica binds a queue of its own (server-named, exclusive, deleted when
//! the replica goes), so nothing is shared and nothing is left behind.
//!
//! For notices that only matter to whoever is connected right now, such as
//! a reminder pushed to the watchers of `WatchReminders`, whichever replica
//! they are connected to. Delivery is at most once and nothing is stored:
//! the durable record is the event on the service's own queue and tables.

use std::{future::Future, time::Duration};

use crm_proto::events::v1::EventEnvelope;
use futures_util::StreamExt;
use lapin::{
    ExchangeKind,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use prost::Message as _;

use super::amqp::{AmqpConfig, connect, declare_exchange};

/// Calls `on_event` with every event whose type matches one of `bindings`
/// (routing-key patterns such as `tasks.reminder.*`) until `shutdown`
/// resolves, reconnecting with backoff after the broker went away.
pub async fn run(
    config: AmqpConfig,
    bindings: Vec<String>,
    on_event: impl Fn(EventEnvelope) + Send + Sync + 'static,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(200);
    loop {
        let round = listen(&config, &bindings, &on_event);
        tokio::select! {
            () = &mut shutdown => return,
            result = round => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "fan-out subscription lost; reconnecting");
                } else {
                    backoff = Duration::from_millis(200);
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

async fn listen(
    config: &AmqpConfig,
    bindings: &[String],
    on_event: &(impl Fn(EventEnvelope) + Send + Sync),
) -> lapin::Result<()> {
    let conn = connect(&config.url).await?;
    let channel = conn.create_channel().await?;
    declare_exchange(&channel, &config.exchange, ExchangeKind::Topic).await?;
    let own = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let queue = channel.queue_declare("".into(), own, FieldTable::default()).await?;
    for key in bindings {
        channel
            .queue_bind(
                queue.name().as_str().into(),
                config.exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut deliveries = channel
        .basic_consume(queue.name().as_str().into(), "".into(), no_ack, FieldTable::default())
        .await?;
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        match EventEnvelope::decode(delivery.data.as_slice()) {
            Ok(envelope) => on_event(envelope),
            Err(e) => tracing::warn!(error = %e, "fan-out: a message that is not an event envelope; dropped"),
        }
    }
    Ok(())
}
