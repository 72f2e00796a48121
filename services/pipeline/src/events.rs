//! Domain changes as `crm.events.v1` payloads, written to the outbox in the
//! change's own transaction.

use crm_kit::{
    auth::Caller,
    outbox::{self, Event},
};
use crm_proto::events::v1 as ev;
use sea_orm::{ConnectionTrait, DbErr};

use crate::{domain::StageKind, entity::stage};

/// A stage as events describe it.
pub fn stage_ref(s: &stage::Model) -> ev::StageRef {
    ev::StageRef {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: StageKind::from_db(&s.kind).to_proto() as i32,
        probability: s.probability,
    }
}

/// Writes one event about the pipeline or deal `aggregate_id`.
pub async fn append<C: ConnectionTrait, P: prost::Message + prost::Name>(
    conn: &C,
    caller: &Caller,
    event_type: &'static str,
    aggregate_id: &str,
    version: i64,
    payload: &P,
) -> Result<(), DbErr> {
    outbox::append(
        conn,
        caller,
        Event {
            event_type,
            aggregate_id,
            aggregate_version: version,
            payload,
        },
    )
    .await
}

/// Routing keys of the pipeline service's events.
pub mod types {
    /// A pipeline was created.
    pub const PIPELINE_CREATED: &str = "pipeline.pipeline.created";
    /// A pipeline changed.
    pub const PIPELINE_UPDATED: &str = "pipeline.pipeline.updated";
    /// A pipeline was deleted.
    pub const PIPELINE_DELETED: &str = "pipeline.pipeline.deleted";
    /// A deal was created.
    pub const DEAL_CREATED: &str = "pipeline.deal.created";
    /// A deal's fields changed.
    pub const DEAL_UPDATED: &str = "pipeline.deal.updated";
    /// A deal was deleted.
    pub const DEAL_DELETED: &str = "pipeline.deal.deleted";
    /// A deal moved.
    pub const DEAL_STAGE_CHANGED: &str = "pipeline.deal.stage_changed";
    /// A deal was won.
    pub const DEAL_WON: &str = "pipeline.deal.won";
    /// A deal was lost.
    pub const DEAL_LOST: &str = "pipeline.deal.lost";
    /// A closed deal was reopened.
    pub const DEAL_REOPENED: &str = "pipeline.deal.reopened";
    /// An open deal outstayed its stage's rotting_days.
    pub const DEAL_STALLED: &str = "pipeline.deal.stalled";
    /// A deal was imported with its history.
    pub const DEAL_IMPORTED: &str = "pipeline.deal.imported";
}
