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
    let txn = db.begin().await?;
    let inserted = entity::Entity::insert(entity::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event.event_id.clone()),
        processed_at: Set(crate::time::now_micros()),
    })
    .on_conflict(
        OnConflict::columns([entity::Column::Consumer, entity::Column::EventId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        txn.rollback().await?;
        return Ok(Applied::Before);
    }
    handler.handle(&txn, event).await?;
    txn.commit()
        .await
        .map_err(|e: DbErr| anyhow::Error::new(e).context("committing the event's effect"))?;
    Ok(Applied::Now)
}
