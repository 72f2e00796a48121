//! Deals: each event's stage entries stored once, its snapshot unless a
//! newer one is stored, nothing once the deal is deleted (a tombstone).

use std::collections::{BTreeMap, HashMap};

use crm_kit::{tenant::Tenant, time};
use crm_proto::events::v1::{self as ev, EventEnvelope};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::{Alias, Expr, IntoIden, OnConflict},
};

use super::{
    Touched,
    decode::{DealChange, occurred},
    log_changes, save,
};
use crate::{
    domain::money,
    entity::{deal, transition},
};

/// What a batch of deal changes writes.
#[derive(Default)]
struct Writes {
    entries: Vec<transition::ActiveModel>,
    /// The newest snapshot of each deal.
    snapshots: BTreeMap<String, deal::ActiveModel>,
    /// Each deal touched, with its pipeline.
    touched: BTreeMap<String, String>,
}

/// Stores each deal's stage entries (each once), and its snapshot unless a
/// newer one is stored; nothing once the deal is deleted. The changes apply
/// in order, as one event after another would, in four statements per
/// tenant: the stored deals read, the entries, the snapshots and the change
/// log written.
pub(super) async fn put(txn: &DatabaseTransaction, changes: Vec<DealChange<'_>>) -> anyhow::Result<()> {
    // Per tenant (a batch is nearly always one tenant's).
    let mut by_tenant: BTreeMap<Tenant, Vec<DealChange<'_>>> = BTreeMap::new();
    for c in changes {
        by_tenant.entry(Tenant::of_event(c.e)).or_default().push(c);
    }
    for (tenant, changes) in by_tenant {
        let mut ids: Vec<String> = changes.iter().map(DealChange::deal_id).collect();
        ids.sort_unstable();
        ids.dedup();
        // (deleted, version) of each deal as stored.
        let stored: HashMap<String, (bool, i64)> = crate::store::deal_rows(txn, &tenant, &ids)
            .await?
            .into_iter()
            .map(|d| (d.id, (d.deleted, d.version)))
            .collect();
        let w = plan(&tenant, stored, changes);
        insert_entries(txn, w.entries).await?;
        upsert_snapshots(txn, w.snapshots.into_values().collect()).await?;
        let touched = w.touched.into_iter().map(|(id, p)| Touched::deal(p, id)).collect();
        log_changes(txn, &tenant, touched).await?;
    }
    Ok(())
}

/// What `changes` write over deals in the `state` (deleted, version) they
/// are stored in, applied in order.
fn plan(tenant: &Tenant, mut state: HashMap<String, (bool, i64)>, changes: Vec<DealChange<'_>>) -> Writes {
    let mut w = Writes::default();
    for c in changes {
        let id = c.deal_id();
        let (deleted, stored_version) = state.get(&id).copied().unwrap_or((false, i64::MIN));
        if deleted {
            continue;
        }
        let (e, d) = (c.e, &c.deal);
        w.entries.extend(c.entries.into_iter().map(|t| {
            transition::Model {
                tenant_id: tenant.id(),
                deal_id: id.clone(),
                aggregate_version: t.version,
                pipeline_id: d.pipeline_id.clone(),
                from_stage_id: t.from.filter(|f| !f.is_empty()),
                to_stage_id: t.to,
                at: t.at,
            }
            .into_active_model()
        }));
        w.touched.insert(id.clone(), d.pipeline_id.clone());
        if stored_version > e.aggregate_version {
            continue;
        }
        state.insert(id.clone(), (false, e.aggregate_version));
        w.snapshots
            .insert(id.clone(), snapshot(tenant, id, e, d).into_active_model());
    }
    w
}

/// The stored snapshot of deal `id` as event `e` describes it.
fn snapshot(tenant: &Tenant, id: String, e: &EventEnvelope, d: &crm_proto::pipeline::v1::Deal) -> deal::Model {
    let amount = d.amount.as_ref().and_then(money::to_minor);
    deal::Model {
        tenant_id: tenant.id(),
        id,
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
        fields: super::fields::select_json(&d.custom_fields),
    }
}

/// A duplicate (the same version, or the same entry under another version:
/// a live move a rebuild already brought) changes nothing.
async fn insert_entries(txn: &DatabaseTransaction, entries: Vec<transition::ActiveModel>) -> anyhow::Result<()> {
    for chunk in entries.chunks(1000) {
        transition::Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The guard keeps a newer snapshot, or a tombstone, that another consumer
/// committed meanwhile.
async fn upsert_snapshots(txn: &DatabaseTransaction, snapshots: Vec<deal::ActiveModel>) -> anyhow::Result<()> {
    use sea_orm::sea_query::ExprTrait as _;
    let version = |table: sea_orm::sea_query::DynIden| Expr::col((table, deal::Column::Version));
    for chunk in snapshots.chunks(500) {
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
                        deal::Column::Fields,
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
    Ok(())
}

/// Leaves a tombstone for the deal and drops its transitions (its stays).
pub(super) async fn delete(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    p: &ev::DealDeleted,
) -> anyhow::Result<Option<Touched>> {
    let tenant = Tenant::of_event(e);
    let id = if p.deal_id.is_empty() {
        e.aggregate_id.clone()
    } else {
        p.deal_id.clone()
    };
    let stored = tenant
        .find::<deal::Entity>()
        .filter(deal::Column::Id.eq(&id))
        .one(txn)
        .await?;
    let exists = stored.is_some();
    let mut row = stored.unwrap_or_else(|| deal::Model {
        tenant_id: tenant.id(),
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
        fields: "{}".to_owned(),
    });
    row.deleted = true;
    row.version = row.version.max(e.aggregate_version);
    let touched = Touched::deal(row.pipeline_id.clone(), id.clone());
    save(txn, exists, row.into_active_model()).await?;
    tenant
        .delete::<transition::Entity>()
        .filter(transition::Column::DealId.eq(id))
        .exec(txn)
        .await?;
    Ok(Some(touched))
}
