//! The bus consumer: pipeline and contacts events in, projection rows out.
//!
//! Order-tolerant and idempotent: the kit inbox applies each event once; a
//! pipeline or deal snapshot is applied only when its aggregate_version is
//! not older than the stored one; a transition is keyed by (tenant, deal,
//! aggregate_version) and unique per (deal, time, stage), so a duplicate, a
//! late move, or a move a rebuild already brought lands in its place once;
//! deletions leave a tombstone so late events about a deleted deal or
//! pipeline change nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context;
use crm_kit::{bus::Handler, time};
use crm_proto::{
    events::v1::{self as ev, EventEnvelope},
    pipeline::v1::{Deal, Pipeline},
};
use prost::Name;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    Statement,
    sea_query::{Alias, Expr, IntoIden, OnConflict},
};

use crate::{
    domain::money,
    entity::{activity, change, deal, pipeline, stage, transition},
};

/// The consumer name: the inbox key and the queue name.
pub const CONSUMER: &str = "analytics";

/// The routing keys the consumer binds.
pub const BINDINGS: &[&str] = &[
    "pipeline.pipeline.*",
    "pipeline.deal.*",
    "contacts.activity.logged",
    crm_kit::settings::BINDING,
];

/// The bus handler that keeps the analytics projections.
#[derive(Clone, Copy, Debug, Default)]
pub struct Projector;

#[tonic::async_trait]
impl Handler for Projector {
    async fn handle(&self, txn: &DatabaseTransaction, e: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(change) = deal_change(e)? {
            return put_deals(txn, vec![change]).await;
        }
        let version = e.aggregate_version;
        let touched = match e.r#type.as_str() {
            "pipeline.pipeline.created" => {
                let p: ev::PipelineCreated = decode(e)?;
                put_pipeline(txn, e, p.pipeline.unwrap_or_default()).await?
            }
            "pipeline.pipeline.updated" => {
                let p: ev::PipelineUpdated = decode(e)?;
                put_pipeline(txn, e, p.pipeline.unwrap_or_default()).await?
            }
            "pipeline.pipeline.deleted" => {
                let p: ev::PipelineDeleted = decode(e)?;
                delete_pipeline(txn, &e.tenant_id, &p.pipeline_id, version).await?;
                Some(Touched::stages(p.pipeline_id))
            }
            "pipeline.deal.deleted" => {
                let p: ev::DealDeleted = decode(e)?;
                delete_deal(txn, e, &p).await?
            }
            "contacts.activity.logged" => {
                let p: ev::ActivityLogged = decode(e)?;
                put_activity(txn, e, p).await?;
                None
            }
            crm_kit::settings::TENANT_SETTINGS_UPDATED => {
                crm_kit::settings::apply(txn, e).await?;
                None
            }
            // pipeline.deal.stalled and anything else: stalls are derived from stays.
            _ => None,
        };
        match touched {
            Some(t) => log_changes(txn, &e.tenant_id, vec![t]).await,
            None => Ok(()),
        }
    }

    /// A batch of deal snapshots costs four statements, not four per event;
    /// anything else in the batch and the events go one by one.
    async fn handle_batch(&self, txn: &DatabaseTransaction, events: &[&EventEnvelope]) -> anyhow::Result<()> {
        if !events.iter().all(|e| DEAL_CHANGES.contains(&e.r#type.as_str())) {
            for e in events {
                self.handle(txn, e).await?;
            }
            return Ok(());
        }
        let mut changes = Vec::with_capacity(events.len());
        for e in events {
            changes.extend(deal_change(e)?);
        }
        put_deals(txn, changes).await
    }
}

/// The events that carry a deal's snapshot (and maybe stage entries).
const DEAL_CHANGES: [&str; 7] = [
    "pipeline.deal.created",
    "pipeline.deal.stage_changed",
    "pipeline.deal.imported",
    "pipeline.deal.updated",
    "pipeline.deal.won",
    "pipeline.deal.lost",
    "pipeline.deal.reopened",
];

/// One event's deal snapshot and stage entries.
struct DealChange<'a> {
    e: &'a EventEnvelope,
    deal: Deal,
    entries: Vec<Entry>,
}

/// The snapshot and stage entries `e` carries, if it is one of [`DEAL_CHANGES`].
fn deal_change(e: &EventEnvelope) -> anyhow::Result<Option<DealChange<'_>>> {
    let version = e.aggregate_version;
    let (deal, entries) = match e.r#type.as_str() {
        "pipeline.deal.created" => {
            let p: ev::DealCreated = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let to = p.stage.map(|s| s.id).filter(|s| !s.is_empty());
            let to = to.unwrap_or_else(|| deal.stage_id.clone());
            let at = deal.create_time.as_ref().and_then(time::from_timestamp);
            let entry = Entry {
                version,
                from: None,
                to,
                at: at.unwrap_or_else(|| occurred(e)),
            };
            (deal, vec![entry])
        }
        "pipeline.deal.stage_changed" => {
            let p: ev::DealStageChanged = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let at = p.moved_at.as_ref().and_then(time::from_timestamp);
            let entry = Entry {
                version,
                from: p.from_stage.map(|s| s.id),
                to: p.to_stage.map(|s| s.id).unwrap_or_else(|| deal.stage_id.clone()),
                at: at.unwrap_or_else(|| occurred(e)),
            };
            (deal, vec![entry])
        }
        "pipeline.deal.imported" => {
            // An imported deal arrives at version 1 with its whole history:
            // the entries take versions up to 0, below every live move's.
            let p: ev::DealImported = decode(e)?;
            let deal = p.deal.unwrap_or_default();
            let n = p.history.len() as i64;
            let entries = p
                .history
                .into_iter()
                .enumerate()
                .map(|(i, t)| Entry {
                    version: i as i64 + 1 - n,
                    from: Some(t.from_stage_id),
                    at: t
                        .moved_at
                        .as_ref()
                        .and_then(time::from_timestamp)
                        .unwrap_or_else(|| occurred(e)),
                    to: t.to_stage_id,
                })
                .collect();
            (deal, entries)
        }
        "pipeline.deal.updated" => (decode::<ev::DealUpdated>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.won" => (decode::<ev::DealWon>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.lost" => (decode::<ev::DealLost>(e)?.deal.unwrap_or_default(), Vec::new()),
        "pipeline.deal.reopened" => (decode::<ev::DealReopened>(e)?.deal.unwrap_or_default(), Vec::new()),
        _ => return Ok(None),
    };
    Ok(Some(DealChange { e, deal, entries }))
}

/// Which read model an event made stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    /// The pipeline.
    pub pipeline_id: String,
    /// A [`change::scope`] value.
    pub scope: i32,
    /// The deal, for [`change::scope::DEAL`].
    pub deal_id: Option<String>,
}

impl Touched {
    /// The pipeline's stages changed.
    pub fn stages(pipeline_id: String) -> Self {
        Self {
            pipeline_id,
            scope: change::scope::STAGES,
            deal_id: None,
        }
    }
}

/// Appends `touched` to the change log, in the transaction that wrote the rows.
pub async fn log_changes(txn: &impl ConnectionTrait, tenant: &str, touched: Vec<Touched>) -> anyhow::Result<()> {
    let touched: Vec<Touched> = touched.into_iter().filter(|t| !t.pipeline_id.is_empty()).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let at = time::now_micros();
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // The writer's transaction id is the row's position in the log.
        let mut sql =
            String::from("INSERT INTO analytics_changes (txid, tenant_id, pipeline_id, scope, deal_id, at) VALUES ");
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(touched.len() * 5);
        for (i, t) in touched.into_iter().enumerate() {
            let n = i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(pg_current_xact_id()::text::bigint, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
            values.extend([
                tenant.into(),
                t.pipeline_id.into(),
                t.scope.into(),
                t.deal_id.into(),
                at.into(),
            ]);
        }
        txn.execute_raw(Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values))
            .await?;
        return Ok(());
    }
    let rows = touched.into_iter().map(|t| change::ActiveModel {
        seq: NotSet,
        txid: Set(None),
        tenant_id: Set(tenant.to_owned()),
        pipeline_id: Set(t.pipeline_id),
        scope: Set(t.scope),
        deal_id: Set(t.deal_id),
        at: Set(at),
    });
    change::Entity::insert_many(rows).exec_without_returning(txn).await?;
    Ok(())
}

/// One stage entry of a deal, about to be stored.
struct Entry {
    version: i64,
    from: Option<String>,
    to: String,
    at: i64,
}

fn decode<T: prost::Message + Name + Default>(e: &EventEnvelope) -> anyhow::Result<T> {
    e.payload
        .as_ref()
        .context("the event has no payload")?
        .to_msg::<T>()
        .with_context(|| format!("decoding the payload of {} as {}", e.r#type, T::full_name()))
}

fn occurred(e: &EventEnvelope) -> i64 {
    e.occurred_at
        .as_ref()
        .and_then(time::from_timestamp)
        .unwrap_or_else(time::now_micros)
}

/// Replaces the pipeline's stages when the event is newer than what is stored.
async fn put_pipeline(txn: &DatabaseTransaction, e: &EventEnvelope, p: Pipeline) -> anyhow::Result<Option<Touched>> {
    let tenant = e.tenant_id.as_str();
    let id = if p.id.is_empty() {
        e.aggregate_id.clone()
    } else {
        p.id.clone()
    };
    let stored = pipeline::Entity::find_by_id((tenant.to_owned(), id.clone()))
        .one(txn)
        .await?;
    if stored
        .as_ref()
        .is_some_and(|s| s.deleted || s.version >= e.aggregate_version)
    {
        return Ok(None);
    }
    let row = pipeline::Model {
        tenant_id: tenant.to_owned(),
        id: id.clone(),
        version: e.aggregate_version,
        deleted: false,
    };
    save(txn, stored.is_some(), row.into_active_model()).await?;
    retire_stages(txn, tenant, &id).await?;
    for (position, s) in p.stages.iter().enumerate() {
        let row = stage::Model {
            tenant_id: tenant.to_owned(),
            id: s.id.clone(),
            pipeline_id: id.clone(),
            position: Some(i32::try_from(position)?),
            name: s.name.clone(),
            kind: s.kind,
            probability: s.probability,
            rotting_days: s.rotting_days,
        };
        stage::Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::columns([stage::Column::TenantId, stage::Column::Id])
                    .update_columns([
                        stage::Column::PipelineId,
                        stage::Column::Position,
                        stage::Column::Name,
                        stage::Column::Kind,
                        stage::Column::Probability,
                        stage::Column::RottingDays,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Some(Touched::stages(id)))
}

/// Takes every stage of the pipeline off the board (names stay for history).
async fn retire_stages(txn: &impl ConnectionTrait, tenant: &str, pipeline_id: &str) -> anyhow::Result<()> {
    stage::Entity::update_many()
        .col_expr(
            stage::Column::Position,
            sea_orm::sea_query::Expr::value(Option::<i32>::None),
        )
        .filter(stage::Column::TenantId.eq(tenant))
        .filter(stage::Column::PipelineId.eq(pipeline_id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn delete_pipeline(txn: &DatabaseTransaction, tenant: &str, id: &str, version: i64) -> anyhow::Result<()> {
    let stored = pipeline::Entity::find_by_id((tenant.to_owned(), id.to_owned()))
        .one(txn)
        .await?;
    let row = pipeline::Model {
        tenant_id: tenant.to_owned(),
        id: id.to_owned(),
        version: stored.as_ref().map_or(version, |s| s.version.max(version)),
        deleted: true,
    };
    save(txn, stored.is_some(), row.into_active_model()).await?;
    retire_stages(txn, tenant, id).await
}

/// Inserts or updates all columns of `row`.
async fn save<A>(txn: &DatabaseTransaction, exists: bool, row: A) -> anyhow::Result<()>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let row = row.reset_all();
    if exists {
        row.update(txn).await?;
    } else {
        row.insert(txn).await?;
    }
    Ok(())
}

/// Stores each deal's stage entries (each once), and its snapshot unless a
/// newer one is stored; nothing once the deal is deleted. The changes apply
/// in order, as one event after another would, in four statements: the
/// stored deals read, the entries, the snapshots and the change log written.
async fn put_deals(txn: &DatabaseTransaction, changes: Vec<DealChange<'_>>) -> anyhow::Result<()> {
    use sea_orm::sea_query::ExprTrait as _;
    // Per tenant (a batch is nearly always one tenant's).
    let mut by_tenant: BTreeMap<&str, Vec<DealChange<'_>>> = BTreeMap::new();
    for c in changes {
        by_tenant.entry(c.e.tenant_id.as_str()).or_default().push(c);
    }
    for (tenant, changes) in by_tenant {
        let id_of = |c: &DealChange<'_>| {
            if c.deal.id.is_empty() {
                c.e.aggregate_id.clone()
            } else {
                c.deal.id.clone()
            }
        };
        let ids: BTreeSet<String> = changes.iter().map(id_of).collect();
        // (deleted, version) of each deal as stored, then as the changes leave it.
        let ids: Vec<String> = ids.into_iter().collect();
        let mut state: HashMap<String, (bool, i64)> = crate::store::deal_rows(txn, tenant, &ids)
            .await?
            .into_iter()
            .map(|d| (d.id, (d.deleted, d.version)))
            .collect();
        let (mut entries, mut snapshots, mut touched) = (Vec::new(), BTreeMap::new(), BTreeMap::new());
        for c in changes {
            let id = id_of(&c);
            let (deleted, stored_version) = state.get(&id).copied().unwrap_or((false, i64::MIN));
            if deleted {
                continue;
            }
            let e = c.e;
            let d = &c.deal;
            entries.extend(c.entries.into_iter().map(|t| {
                transition::Model {
                    tenant_id: tenant.to_owned(),
                    deal_id: id.clone(),
                    aggregate_version: t.version,
                    pipeline_id: d.pipeline_id.clone(),
                    from_stage_id: t.from.filter(|f| !f.is_empty()),
                    to_stage_id: t.to,
                    at: t.at,
                }
                .into_active_model()
            }));
            touched.insert(id.clone(), d.pipeline_id.clone());
            if stored_version > e.aggregate_version {
                continue;
            }
            state.insert(id.clone(), (false, e.aggregate_version));
            let amount = d.amount.as_ref().and_then(money::to_minor);
            let row = deal::Model {
                tenant_id: tenant.to_owned(),
                id: id.clone(),
                pipeline_id: d.pipeline_id.clone(),
                stage_id: d.stage_id.clone(),
                status: d.status,
                title: d.title.clone(),
                owner_id: d.owner_id.clone(),
                amount_minor: amount.as_ref().map(|a| a.1),
                currency: amount.map(|a| a.0),
                expected_close_day: d.expected_close_date.as_ref().and_then(money::date_to_day),
                create_time: d
                    .create_time
                    .as_ref()
                    .and_then(time::from_timestamp)
                    .unwrap_or_else(|| occurred(e)),
                closed_at: d.closed_at.as_ref().and_then(time::from_timestamp),
                version: e.aggregate_version,
                deleted: false,
            };
            snapshots.insert(id, row.into_active_model());
        }
        // A duplicate (the same version, or the same entry under another
        // version: a live move a rebuild already brought) changes nothing.
        for chunk in entries.chunks(1000) {
            transition::Entity::insert_many(chunk.to_vec())
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        // The newest snapshot of each deal; the guard keeps a newer one, or a
        // tombstone, that another consumer committed meanwhile.
        let snapshots: Vec<_> = snapshots.into_values().collect();
        for chunk in snapshots.chunks(500) {
            let version = |table: sea_orm::sea_query::DynIden| Expr::col((table, deal::Column::Version));
            deal::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([deal::Column::TenantId, deal::Column::Id])
                        .update_columns([
                            deal::Column::PipelineId,
                            deal::Column::StageId,
                            deal::Column::Status,
                            deal::Column::Title,
                            deal::Column::OwnerId,
                            deal::Column::AmountMinor,
                            deal::Column::Currency,
                            deal::Column::ExpectedCloseDay,
                            deal::Column::CreateTime,
                            deal::Column::ClosedAt,
                            deal::Column::Version,
                        ])
                        .action_and_where(
                            version(deal::Entity.into_iden())
                                .lte(version(Alias::new("excluded").into_iden()))
                                .and(Expr::col((deal::Entity, deal::Column::Deleted)).eq(false)),
                        )
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        let touched = touched
            .into_iter()
            .map(|(id, pipeline_id)| Touched {
                pipeline_id,
                scope: change::scope::DEAL,
                deal_id: Some(id),
            })
            .collect();
        log_changes(txn, tenant, touched).await?;
    }
    Ok(())
}

/// Leaves a tombstone for the deal and drops its transitions (its stays).
async fn delete_deal(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    p: &ev::DealDeleted,
) -> anyhow::Result<Option<Touched>> {
    let tenant = e.tenant_id.as_str();
    let id = if p.deal_id.is_empty() {
        e.aggregate_id.clone()
    } else {
        p.deal_id.clone()
    };
    let stored = deal::Entity::find_by_id((tenant.to_owned(), id.clone()))
        .one(txn)
        .await?;
    let exists = stored.is_some();
    let mut row = stored.unwrap_or_else(|| deal::Model {
        tenant_id: tenant.to_owned(),
        id: id.clone(),
        pipeline_id: p.pipeline_id.clone(),
        stage_id: p.stage_id.clone(),
        status: 0,
        title: String::new(),
        owner_id: String::new(),
        amount_minor: None,
        currency: None,
        expected_close_day: None,
        create_time: occurred(e),
        closed_at: None,
        version: e.aggregate_version,
        deleted: true,
    });
    row.deleted = true;
    row.version = row.version.max(e.aggregate_version);
    let touched = Touched {
        pipeline_id: row.pipeline_id.clone(),
        scope: change::scope::DEAL,
        deal_id: Some(id.clone()),
    };
    save(txn, exists, row.into_active_model()).await?;
    transition::Entity::delete_many()
        .filter(transition::Column::TenantId.eq(tenant))
        .filter(transition::Column::DealId.eq(id))
        .exec(txn)
        .await?;
    Ok(Some(touched))
}

async fn put_activity(txn: &DatabaseTransaction, e: &EventEnvelope, p: ev::ActivityLogged) -> anyhow::Result<()> {
    let a = p.activity.unwrap_or_default();
    let at = a
        .occurred_at
        .as_ref()
        .or(a.create_time.as_ref())
        .and_then(time::from_timestamp);
    let row = activity::Model {
        tenant_id: e.tenant_id.clone(),
        id: if a.id.is_empty() { e.aggregate_id.clone() } else { a.id },
        author_id: a.author_id,
        occurred_at: at.unwrap_or_else(|| occurred(e)),
    };
    activity::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([activity::Column::TenantId, activity::Column::Id])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
