//! The consumer side of exactly-once: `processed_events` holds every
//! event_id a consumer applied, written in the same transaction as the
//! effect. A redelivered event finds its id and changes nothing.

use crm_proto::events::v1::EventEnvelope;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, TransactionTrait, sea_query::OnConflict};

use super::Handler;

/// The `processed_events` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// An event a consumer applied.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "processed_events")]
    pub struct Model {
        /// The consumer (one service may run several).
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        /// The envelope's event_id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        /// When it was applied (µs since the epoch).
        pub processed_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What happened to one delivered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The effect was applied and committed now.
    Now,
    /// The event was applied before; nothing changed.
    Before,
}

/// Applies `event` with `handler` unless `consumer` applied it before: the
/// inbox row and the effect commit together or not at all.
pub async fn apply_once(
    db: &DatabaseConnection,
    consumer: &str,
    event: &EventEnvelope,
    handler: &dyn Handler,
) -> anyhow::Result<Applied> {
    Ok(match apply_batch(db, consumer, &[event], handler).await? {
        0 => Applied::Before,
        _ => Applied::Now,
    })
}

/// Applies `events` with `handler` in one transaction, each unless
/// `consumer` applied it before (one inbox insert for all of them tells
/// which are new). All or nothing: on an error nothing is applied, and the
/// caller applies them one by one with [`apply_once`] to find the one that
/// fails. Returns the events applied now.
pub async fn apply_batch(
    db: &DatabaseConnection,
    consumer: &str,
    events: &[&EventEnvelope],
    handler: &dyn Handler,
) -> anyhow::Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let txn = db.begin().await?;
    let now = crate::time::now_micros();
    let rows = events.iter().map(|e| entity::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(e.event_id.clone()),
        processed_at: Set(now),
    });
    let inserted = entity::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([entity::Column::Consumer, entity::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning_keys(&txn)
        .await?;
    // Each new event once, even if it was delivered twice in the batch.
    let mut new: std::collections::HashSet<&str> = inserted.iter().map(|(_, id)| id.as_str()).collect();
    let fresh: Vec<&EventEnvelope> = events
        .iter()
        .copied()
        .filter(|e| new.remove(e.event_id.as_str()))
        .collect();
    let span = tracing::info_span!("events", consumer, count = fresh.len());
    if fresh.len() > 1 {
        // Applied together for several traces: linked to each.
        for e in &fresh {
            let tc = e.trace_context.as_ref();
            if let Some(remote) = tc.and_then(|t| crate::trace::TraceContext::remote(&t.traceparent, &t.tracestate)) {
                remote.link(&span);
            }
        }
    }
    tracing::Instrument::instrument(handler.handle_batch(&txn, &fresh), span).await?;
    let applied = fresh.len();
    txn.commit()
        .await
        .map_err(|e: DbErr| anyhow::Error::new(e).context("committing the events' effects"))?;
    for e in &fresh {
        crate::metrics::event_consumed(
            consumer,
            &e.r#type,
            e.occurred_at.as_ref().and_then(crate::time::from_timestamp),
        );
    }
    Ok(applied)
}
