//! Activities from contacts events, each stored once (the owner report
//! counts them per author).

use crm_kit::time;
use crm_proto::events::v1::{self as ev, EventEnvelope};
use sea_orm::{DatabaseTransaction, EntityTrait, IntoActiveModel, sea_query::OnConflict};

use super::decode::occurred;
use crate::entity::activity;

/// Stores the logged activity unless it is stored already.
pub(super) async fn put(txn: &DatabaseTransaction, e: &EventEnvelope, p: ev::ActivityLogged) -> anyhow::Result<()> {
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
