//! The transactional outbox: a state change and its events are written in
//! one database transaction, so an event exists if and only if its change
//! committed. A relay (next to the bus) publishes the rows and marks them.

use prost::{Message, Name};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use crate::{auth::Caller, time, validate::new_id};

/// The `outbox` table: one row per event, in commit order.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// An event waiting to be published (or already published).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Insertion order; the relay publishes in this order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// The envelope's event_id.
        #[sea_orm(unique)]
        pub event_id: String,
        /// The tenant the change happened in.
        pub tenant_id: String,
        /// The event type, also the routing key.
        pub event_type: String,
        /// The changed record.
        pub aggregate_id: String,
        /// The record's version after the change.
        pub aggregate_version: i64,
        /// The encoded `crm.events.v1.EventEnvelope`.
        pub envelope: Vec<u8>,
        /// When the row was written (µs since the epoch).
        pub created_at: i64,
        /// When the broker confirmed it; unset while pending.
        pub published_at: Option<i64>,
    }

    /// No relations: the outbox stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One event about to be written: its type, the record it is about, and the
/// payload message.
pub struct Event<'a, P> {
    /// `<service>.<aggregate>.<event>`, e.g. `pipeline.deal.created`.
    pub event_type: &'static str,
    /// The changed record's id.
    pub aggregate_id: &'a str,
    /// The record's version after the change.
    pub aggregate_version: i64,
    /// The payload, a `crm.events.v1` message.
    pub payload: &'a P,
}

/// Writes `event` to the outbox on `conn` (the change's own transaction).
pub async fn append<C, P>(conn: &C, caller: &Caller, event: Event<'_, P>) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    P: Message + Name,
{
    entity::Entity::insert(row(caller, &event)?).exec(conn).await?;
    Ok(())
}

/// Writes one event about the record `aggregate_id`, at its version after
/// the change, to the outbox on `conn`: what each service's typed writers
/// in `events.rs` call.
pub async fn emit<C, P>(
    conn: &C,
    caller: &Caller,
    event_type: &'static str,
    aggregate_id: &str,
    aggregate_version: i64,
    payload: &P,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    P: Message + Name,
{
    let event = Event {
        event_type,
        aggregate_id,
        aggregate_version,
        payload,
    };
    append(conn, caller, event).await
}

/// Writes many events in one statement (bulk imports).
pub async fn append_many<C, P>(conn: &C, caller: &Caller, events: &[Event<'_, P>]) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    P: Message + Name,
{
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.iter().map(|e| row(caller, e)).collect::<Result<Vec<_>, _>>()?;
    entity::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// The outbox row of `event`: its envelope, stamped now, with the current
/// trace context.
fn row<P: Message + Name>(caller: &Caller, event: &Event<'_, P>) -> Result<entity::ActiveModel, DbErr> {
    let event_id = new_id().to_string();
    let now = time::now_micros();
    let envelope = crm_proto::events::v1::EventEnvelope {
        event_id: event_id.clone(),
        tenant_id: caller.tenant_id.clone(),
        r#type: event.event_type.to_owned(),
        aggregate_id: event.aggregate_id.to_owned(),
        aggregate_version: event.aggregate_version,
        occurred_at: Some(time::to_timestamp(now)),
        actor_id: caller.user_id.clone(),
        trace_context: crate::trace::TraceContext::current().map(|t| crm_proto::events::v1::TraceContext {
            traceparent: t.traceparent,
            tracestate: t.tracestate,
        }),
        payload: Some(prost_types::Any::from_msg(event.payload).map_err(|e| DbErr::Custom(e.to_string()))?),
    };
    Ok(entity::ActiveModel {
        event_id: Set(event_id),
        tenant_id: Set(caller.tenant_id.clone()),
        event_type: Set(event.event_type.to_owned()),
        aggregate_id: Set(event.aggregate_id.to_owned()),
        aggregate_version: Set(event.aggregate_version),
        envelope: Set(envelope.encode_to_vec()),
        created_at: Set(now),
        published_at: Set(None),
        ..Default::default()
    })
}

/// The envelopes in the outbox of `conn`, oldest first; for tests and tools.
pub async fn read_all<C: ConnectionTrait>(conn: &C) -> Result<Vec<crm_proto::events::v1::EventEnvelope>, DbErr> {
    let rows = entity::Entity::find()
        .order_by_asc(entity::Column::Seq)
        .all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            crm_proto::events::v1::EventEnvelope::decode(r.envelope.as_slice())
                .map_err(|e| DbErr::Custom(e.to_string()))
        })
        .collect()
}
