//! RebuildProjections: drop the tenant's pipeline projections and replay the
//! pipeline service's current state through the projector, as if every
//! pipeline were just created and every deal just imported. Activities come
//! from contacts events and are kept.

use std::collections::BTreeSet;

use crm_kit::{ApiError, ApiResult, auth::Caller, bus::Handler, tenant::Tenant, time, validate::new_id};
use crm_proto::events::v1::{self as ev, EventEnvelope};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait, TransactionTrait, sea_query::OnConflict};
use tokio_stream::StreamExt;

use crate::{
    entity::{change, deal, field, pipeline, stage, tenant, transition},
    projection::{Projector, Touched, log_changes},
    source::{PipelineSource, peer},
};

/// How much a rebuild replayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Deals replayed.
    pub deals: i64,
    /// Stage entries replayed.
    pub transitions: i64,
}

/// Rebuilds `caller`'s tenant in one transaction: readers see the old
/// numbers until the new ones are complete.
pub async fn rebuild(db: &DatabaseConnection, caller: &Caller, source: &PipelineSource) -> ApiResult<Rebuilt> {
    let pipelines = source.pipelines(caller).await?;
    let settings = source.settings(caller).await?;
    let fields = source.fields(caller).await?;
    let mut deals = source.deals(caller).await?;
    let tenant = &Tenant::of(caller);
    let txn = db.begin().await?;
    // The tenant's visibility comes along: events of a settings change made
    // before this database existed never reach it.
    let copy = crm_tenancy::settings::entity::Model {
        tenant_id: tenant.id(),
        visibility: settings.visibility,
        version: version_of(&settings.etag),
        update_time: settings
            .update_time
            .as_ref()
            .and_then(time::from_timestamp)
            .unwrap_or(0),
    };
    crm_tenancy::settings::put(&txn, copy).await?;
    let mut touched = clear(&txn, tenant).await?;
    for f in fields {
        let (id, version) = (f.id.clone(), version_of(&f.etag));
        replay(
            &txn,
            tenant,
            &id,
            version,
            &ev::FieldDefinitionCreated { definition: Some(f) },
        )
        .await?;
    }
    for p in pipelines {
        let (id, version) = (p.id.clone(), version_of(&p.etag));
        touched.insert(id.clone());
        replay(&txn, tenant, &id, version, &ev::PipelineCreated { pipeline: Some(p) }).await?;
    }
    let mut done = Rebuilt::default();
    while let Some(item) = deals.next().await {
        let item = item.map_err(peer)?;
        let Some(d) = item.deal else { continue };
        let (id, version) = (d.id.clone(), version_of(&d.etag));
        done.deals += 1;
        done.transitions += item.history.len() as i64;
        let history = item.history;
        replay(&txn, tenant, &id, version, &ev::DealImported { deal: Some(d), history }).await?;
    }
    mark_rebuilt(&txn, tenant, touched).await?;
    txn.commit().await?;
    Ok(done)
}

/// Drops the tenant's pipeline projections; returns the pipelines they held.
async fn clear(txn: &DatabaseTransaction, tenant: &Tenant) -> ApiResult<BTreeSet<String>> {
    let pipelines = tenant.find::<pipeline::Entity>().all(txn).await?;
    tenant.delete::<deal::Entity>().exec(txn).await?;
    tenant.delete::<transition::Entity>().exec(txn).await?;
    tenant.delete::<stage::Entity>().exec(txn).await?;
    tenant.delete::<pipeline::Entity>().exec(txn).await?;
    tenant.delete::<field::Entity>().exec(txn).await?;
    Ok(pipelines.into_iter().map(|p| p.id).collect())
}

/// Records that the tenant is rebuilt (it need not catch up again), and
/// makes every replica's read model of the `touched` pipelines reload whole.
async fn mark_rebuilt(txn: &DatabaseTransaction, tenant: &Tenant, touched: BTreeSet<String>) -> ApiResult<()> {
    let row = tenant::Model {
        tenant_id: tenant.id(),
        rebuilt_at: time::now_micros(),
    };
    tenant::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row))
        .on_conflict(
            OnConflict::column(tenant::Column::TenantId)
                .update_column(tenant::Column::RebuiltAt)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    for pipeline_id in touched {
        let all = Touched {
            pipeline_id,
            scope: change::scope::ALL,
            deal_id: None,
        };
        log_changes(txn, tenant, vec![all]).await.map_err(ApiError::Internal)?;
    }
    Ok(())
}

/// Feeds one synthesized event to the projector inside `txn`.
async fn replay<P: prost::Message + Name>(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    aggregate_id: &str,
    version: i64,
    payload: &P,
) -> ApiResult<()> {
    let r#type = match P::NAME {
        "PipelineCreated" => "pipeline.pipeline.created",
        "FieldDefinitionCreated" => "pipeline.field.created",
        _ => "pipeline.deal.imported",
    };
    let envelope = EventEnvelope {
        event_id: new_id().to_string(),
        tenant_id: tenant.id(),
        r#type: r#type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        aggregate_version: version,
        occurred_at: Some(time::to_timestamp(time::now_micros())),
        actor_id: "rebuild".into(),
        trace_context: None,
        payload: Some(prost_types::Any::from_msg(payload).map_err(|e| crm_kit::ApiError::Internal(e.into()))?),
    };
    Projector
        .handle(txn, &envelope)
        .await
        .map_err(crm_kit::ApiError::Internal)
}

/// The version an etag (`v7`) names; 1 if unreadable.
fn version_of(etag: &str) -> i64 {
    crm_kit::etag::parse("etag", etag).ok().flatten().unwrap_or(1)
}
