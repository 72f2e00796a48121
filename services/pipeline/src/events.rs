//! Domain changes as `crm.events.v1` payloads, written to the outbox in the
//! change's own transaction: an event exists if and only if its change
//! committed. One typed writer per change; `aggregate_version` is the
//! record's version after the change (for a delete, the deleted version
//! plus one).

use crm_fields::Definitions;
use crm_kit::{
    auth::Caller,
    outbox::{self, Event},
};
use crm_proto::events::v1 as ev;
use crm_tenancy::settings;
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    convert::{self, stage_ref},
    domain::{CreatedDeal, MoveEvent, Moved, PipelineChange, PipelineWithStages, import::ImportedRows},
    entity::{deal, stage},
};

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
    /// A custom deal field was defined.
    pub const FIELD_CREATED: &str = "pipeline.field.created";
    /// A custom deal field's definition changed.
    pub const FIELD_UPDATED: &str = "pipeline.field.updated";
    /// A custom deal field was archived.
    pub const FIELD_ARCHIVED: &str = "pipeline.field.archived";
    /// An archived custom deal field was deleted.
    pub const FIELD_DELETED: &str = "pipeline.field.deleted";
}

/// The deal fields' owner: their table and events (see [`crm_fields::Owner`]).
pub const DEAL_FIELDS: crm_fields::Owner = crm_fields::Owner {
    records: &[(crm_fields::RecordType::Deal, "deals")],
    fallback: Some(crm_fields::RecordType::Deal),
    events: crm_fields::EventTypes {
        created: types::FIELD_CREATED,
        updated: types::FIELD_UPDATED,
        archived: types::FIELD_ARCHIVED,
        deleted: types::FIELD_DELETED,
    },
    bumps_config: true,
};

/// `pipeline.pipeline.created`.
pub async fn pipeline_created(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    p: &PipelineWithStages,
) -> Result<(), DbErr> {
    let payload = ev::PipelineCreated {
        pipeline: Some(convert::pipeline(p)),
    };
    outbox::emit(conn, caller, types::PIPELINE_CREATED, &p.pipeline.id, 1, &payload).await
}

/// `pipeline.pipeline.updated`, naming the changed fields and the removed stages.
pub async fn pipeline_updated(conn: &impl ConnectionTrait, caller: &Caller, c: &PipelineChange) -> Result<(), DbErr> {
    let payload = ev::PipelineUpdated {
        pipeline: Some(convert::pipeline(&c.next)),
        changed_fields: c.changed.clone(),
        removed_stage_ids: c.removed.clone(),
    };
    let p = &c.next.pipeline;
    outbox::emit(conn, caller, types::PIPELINE_UPDATED, &p.id, p.version, &payload).await
}

/// `pipeline.pipeline.deleted`.
pub async fn pipeline_deleted(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    p: &PipelineWithStages,
) -> Result<(), DbErr> {
    let payload = ev::PipelineDeleted {
        pipeline_id: p.pipeline.id.clone(),
    };
    let (id, version) = (&p.pipeline.id, p.pipeline.version + 1);
    outbox::emit(conn, caller, types::PIPELINE_DELETED, id, version, &payload).await
}

/// `pipeline.deal.created`.
pub async fn deal_created(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    c: &CreatedDeal,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::DealCreated {
        deal: Some(convert::deal(&c.deal, c.stage.probability, defs)),
        stage: Some(stage_ref(&c.stage)),
    };
    outbox::emit(conn, caller, types::DEAL_CREATED, &c.deal.id, 1, &payload).await
}

/// `pipeline.deal.updated`, naming the changed fields (custom values as
/// `custom_fields.<key>`); `probability` is the deal's stage's.
pub async fn deal_updated(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    (d, probability): (&deal::Model, i32),
    changed_fields: Vec<String>,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::DealUpdated {
        deal: Some(convert::deal(d, probability, defs)),
        changed_fields,
    };
    outbox::emit(conn, caller, types::DEAL_UPDATED, &d.id, d.version, &payload).await
}

/// `pipeline.deal.deleted`.
pub async fn deal_deleted(conn: &impl ConnectionTrait, caller: &Caller, d: &deal::Model) -> Result<(), DbErr> {
    let payload = ev::DealDeleted {
        deal_id: d.id.clone(),
        pipeline_id: d.pipeline_id.clone(),
        stage_id: d.stage_id.clone(),
    };
    outbox::emit(conn, caller, types::DEAL_DELETED, &d.id, d.version + 1, &payload).await
}

/// What a move announces: `pipeline.deal.stage_changed`, then
/// `pipeline.deal.won`, `lost` or `reopened` where the domain says so.
pub async fn deal_moved(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    m: &Moved,
    defs: &Definitions,
) -> Result<(), DbErr> {
    let deal = Some(convert::deal(&m.next, m.to.probability, defs));
    let (from, to) = (Some(stage_ref(&m.from)), Some(stage_ref(&m.to)));
    let (id, version) = (&m.next.id, m.next.version);
    for event in &m.events {
        match event {
            MoveEvent::StageChanged => {
                let p = ev::DealStageChanged {
                    deal: deal.clone(),
                    from_stage: from.clone(),
                    to_stage: to.clone(),
                    amount: deal.as_ref().and_then(|d| d.amount.clone()),
                    time_in_from_stage: m.transition.time_in_from_stage.map(crm_kit::time::to_duration),
                    moved_at: Some(crm_kit::time::to_timestamp(m.transition.moved_at)),
                };
                outbox::emit(conn, caller, types::DEAL_STAGE_CHANGED, id, version, &p).await?;
            }
            MoveEvent::Won => {
                let (deal, from_stage, stage) = (deal.clone(), from.clone(), to.clone());
                let p = ev::DealWon {
                    deal,
                    from_stage,
                    stage,
                };
                outbox::emit(conn, caller, types::DEAL_WON, id, version, &p).await?;
            }
            MoveEvent::Lost => {
                let p = ev::DealLost {
                    deal: deal.clone(),
                    from_stage: from.clone(),
                    lost_reason: m.next.lost_reason.clone().unwrap_or_default(),
                    stage: to.clone(),
                };
                outbox::emit(conn, caller, types::DEAL_LOST, id, version, &p).await?;
            }
            MoveEvent::Reopened => {
                let (deal, from_stage, stage) = (deal.clone(), from.clone(), to.clone());
                let p = ev::DealReopened {
                    deal,
                    from_stage,
                    stage,
                };
                outbox::emit(conn, caller, types::DEAL_REOPENED, id, version, &p).await?;
            }
        }
    }
    Ok(())
}

/// `pipeline.deal.stalled`, by the system: `d` outstayed its stage `s`.
pub async fn deal_stalled(
    conn: &impl ConnectionTrait,
    system: &Caller,
    (d, s): (&deal::Model, &stage::Model),
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payload = ev::DealStalled {
        deal: Some(convert::deal(d, s.probability, defs)),
        stage: Some(stage_ref(s)),
        rotting_days: s.rotting_days,
        stage_entered_at: Some(crm_kit::time::to_timestamp(d.stage_entered_at)),
    };
    outbox::emit(conn, system, types::DEAL_STALLED, &d.id, d.version, &payload).await
}

/// `pipeline.deal.imported` for each of `rows`, a thousand to a statement.
pub async fn deals_imported(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    rows: &[ImportedRows],
    defs: &Definitions,
) -> Result<(), DbErr> {
    let payloads: Vec<ev::DealImported> = rows
        .iter()
        .map(|r| ev::DealImported {
            deal: Some(convert::deal(&r.deal, r.probability, defs)),
            history: r.transitions.iter().map(convert::transition).collect(),
        })
        .collect();
    let events: Vec<Event<'_, ev::DealImported>> = rows
        .iter()
        .zip(&payloads)
        .map(|(r, payload)| Event {
            event_type: types::DEAL_IMPORTED,
            aggregate_id: &r.deal.id,
            aggregate_version: 1,
            payload,
        })
        .collect();
    for chunk in events.chunks(1000) {
        outbox::append_many(conn, caller, chunk).await?;
    }
    Ok(())
}

/// `pipeline.tenant.settings_updated`, which every service copies.
pub async fn settings_updated(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    s: &settings::entity::Model,
) -> Result<(), DbErr> {
    let payload = ev::TenantSettingsUpdated {
        visibility: s.visibility,
    };
    let (tenant, version) = (&s.tenant_id, s.version);
    outbox::emit(
        conn,
        caller,
        settings::TENANT_SETTINGS_UPDATED,
        tenant,
        version,
        &payload,
    )
    .await
}
