//! Reads of the projections, always scoped to the caller's tenant.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use crm_kit::tenant::Tenant;
use crm_proto::common::v1::{DealStatus, StageKind};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    StreamTrait,
};
use tokio_stream::StreamExt;

use crate::{
    domain::{DealRow, History, Period, Stage, Transition},
    entity::{activity, change, deal, stage, transition},
};

/// How many ids go into one `IN (...)` list.
const CHUNK: usize = 500;

/// The board stages of a pipeline in order; empty when the tenant has no such pipeline.
pub async fn stages(db: &impl ConnectionTrait, tenant: &Tenant, pipeline_id: &str) -> Result<Vec<Stage>, DbErr> {
    let rows = tenant
        .find::<stage::Entity>()
        .filter(stage::Column::PipelineId.eq(pipeline_id))
        .filter(stage::Column::Position.is_not_null())
        .order_by_asc(stage::Column::Position)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| Stage {
            id: s.id,
            name: s.name,
            kind: StageKind::try_from(s.kind).unwrap_or(StageKind::Unspecified),
            probability: s.probability,
            rotting_days: s.rotting_days,
        })
        .collect())
}

/// The pipeline's whole history: its board, every live deal and its stays.
/// Streams the rows, so memory holds the result, not the result set.
pub async fn history<C>(db: &C, tenant: &Tenant, pipeline_id: &str) -> Result<History, DbErr>
where
    C: ConnectionTrait + StreamTrait + Send,
{
    let mut h = History::new(stages(db, tenant, pipeline_id).await?);
    let mut deals = HashMap::new();
    let mut rows = tenant
        .find::<deal::Entity>()
        .filter(deal::Column::PipelineId.eq(pipeline_id))
        .filter(deal::Column::Deleted.eq(false))
        .stream(db)
        .await?;
    while let Some(d) = rows.next().await {
        let d = d?;
        deals.insert(d.id.clone(), to_deal(d));
    }
    drop(rows);
    let mut moves = tenant
        .find::<transition::Entity>()
        .select_only()
        .columns([
            transition::Column::DealId,
            transition::Column::AggregateVersion,
            transition::Column::ToStageId,
            transition::Column::At,
        ])
        .filter(transition::Column::PipelineId.eq(pipeline_id))
        .into_tuple::<(String, i64, String, i64)>()
        .stream(db)
        .await?;
    let mut by_deal: HashMap<String, Vec<Transition>> = HashMap::with_capacity(deals.len());
    while let Some(t) = moves.next().await {
        let (deal_id, version, to_stage_id, at) = t?;
        if deals.contains_key(&deal_id) {
            by_deal.entry(deal_id).or_default().push(Transition {
                version,
                to_stage_id,
                at,
            });
        }
    }
    drop(moves);
    for (id, d) in deals {
        let ts = by_deal.remove(&id).unwrap_or_default();
        h.put(d, ts);
    }
    Ok(h)
}

/// The current rows of the deals `ids`: each live one with its transitions;
/// the deleted or unknown ones are left out. Two queries per [`CHUNK`] ids,
/// each answered from a primary key (tenant, deal ...): no other index of
/// these tables starts with the tenant, so even a planner without
/// statistics takes the key.
pub async fn deals(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    ids: &[String],
) -> Result<Vec<(DealRow, Vec<Transition>)>, DbErr> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut rows = deal_rows(db, tenant, chunk).await?;
        rows.retain(|d| !d.deleted);
        let mut moves: HashMap<String, Vec<Transition>> = HashMap::new();
        let ts = tenant
            .find::<transition::Entity>()
            .filter(transition::Column::DealId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        for t in ts {
            moves.entry(t.deal_id).or_default().push(Transition {
                version: t.aggregate_version,
                to_stage_id: t.to_stage_id,
                at: t.at,
            });
        }
        out.extend(rows.into_iter().map(|d| {
            let ts = moves.remove(&d.id).unwrap_or_default();
            (to_deal(d), ts)
        }));
    }
    Ok(out)
}

/// The stored rows (tombstones too) of the deals `ids`, by primary key,
/// [`CHUNK`] ids to a query.
pub async fn deal_rows(db: &impl ConnectionTrait, tenant: &Tenant, ids: &[String]) -> Result<Vec<deal::Model>, DbErr> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let found = tenant
            .find::<deal::Entity>()
            .filter(deal::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        rows.extend(found);
    }
    Ok(rows)
}

/// A position in the change log to read from next: on SQLite the next
/// `seq` of the pipeline; on PostgreSQL the xmin of a snapshot taken now
/// (every transaction that commits later has a txid at or above it).
pub async fn cursor(db: &impl ConnectionTrait, tenant: &Tenant, pipeline_id: &str) -> Result<i64, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let sql = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin";
        let row = db
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await?;
        return row.map_or(Ok(0), |r| r.try_get::<i64>("", "xmin"));
    }
    let last = tenant
        .find::<change::Entity>()
        .filter(change::Column::PipelineId.eq(pipeline_id))
        .order_by_desc(change::Column::Seq)
        .one(db)
        .await?;
    Ok(last.map_or(1, |c| c.seq + 1))
}

/// The position of a change, comparable with a [`cursor`].
pub fn position(c: &change::Model) -> i64 {
    c.txid.unwrap_or(c.seq)
}

/// The pipeline's changes at or after `cursor` (on PostgreSQL some may have
/// been read before), and the cursor to read from next time.
pub async fn changes_since(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    pipeline_id: &str,
    cursor: i64,
) -> Result<(Vec<change::Model>, i64), DbErr> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    // The next cursor comes first: what commits after it is read next time.
    let next = if postgres {
        self::cursor(db, tenant, pipeline_id).await?
    } else {
        cursor
    };
    let column = if postgres {
        change::Column::Txid
    } else {
        change::Column::Seq
    };
    // No ORDER BY on PostgreSQL: it would tempt the planner into walking
    // the pipeline's whole log in seq order instead of the txid range.
    let mut query = tenant
        .find::<change::Entity>()
        .filter(change::Column::PipelineId.eq(pipeline_id))
        .filter(column.gte(cursor));
    if !postgres {
        query = query.order_by_asc(change::Column::Seq);
    }
    let rows = query.all(db).await?;
    let next = if postgres {
        next
    } else {
        rows.last().map_or(cursor, |c| c.seq + 1)
    };
    Ok((rows, next))
}

/// Drops the changes written before `before` (µs), of every tenant (the
/// pruner is a system job).
pub async fn prune_changes(db: &impl ConnectionTrait, before: i64) -> Result<u64, DbErr> {
    let done = change::Entity::delete_many()
        .filter(change::Column::At.lt(before))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

fn to_deal(d: deal::Model) -> DealRow {
    DealRow {
        stage_id: d.stage_id,
        status: DealStatus::try_from(d.status).unwrap_or(DealStatus::Unspecified),
        title: d.title,
        owner_id: d.owner_id,
        amount: d.currency.zip(d.amount_minor),
        expected_close: d.expected_close_day.and_then(NaiveDate::from_num_days_from_ce_opt),
        create_time: d.create_time,
        closed_at: d.closed_at,
        fields: crate::projection::fields::pairs(&d.fields),
        id: d.id,
    }
}

/// Activities logged in `period` per author (only `owner`'s, if given).
pub async fn activities(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    owner: Option<&str>,
    period: Period,
) -> Result<BTreeMap<String, i64>, DbErr> {
    let mut q = tenant
        .find::<activity::Entity>()
        .filter(activity::Column::OccurredAt.gte(period.from))
        .filter(activity::Column::OccurredAt.lt(period.to));
    if let Some(owner) = owner {
        q = q.filter(activity::Column::AuthorId.eq(owner));
    }
    let mut counts = BTreeMap::new();
    for a in q.all(db).await? {
        *counts.entry(a.author_id).or_default() += 1;
    }
    Ok(counts)
}
