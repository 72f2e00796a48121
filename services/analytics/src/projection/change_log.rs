//! The change log (`analytics_changes`): which read model each write made
//! stale, appended in the writing transaction, so a reader learns exactly
//! what changed since it last looked (see [`crate::cache`]).

use crm_kit::{tenant::Tenant, time};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseBackend, EntityTrait, Statement,
};

use crate::entity::change;

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
    /// The deal `deal_id` of the pipeline changed.
    pub fn deal(pipeline_id: String, deal_id: String) -> Self {
        Self {
            pipeline_id,
            scope: change::scope::DEAL,
            deal_id: Some(deal_id),
        }
    }

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
pub async fn log_changes(txn: &impl ConnectionTrait, tenant: &Tenant, touched: Vec<Touched>) -> anyhow::Result<()> {
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
                tenant.as_str().into(),
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
        tenant_id: Set(tenant.id()),
        pipeline_id: Set(t.pipeline_id),
        scope: Set(t.scope),
        deal_id: Set(t.deal_id),
        at: Set(at),
    });
    change::Entity::insert_many(rows).exec_without_returning(txn).await?;
    Ok(())
}
