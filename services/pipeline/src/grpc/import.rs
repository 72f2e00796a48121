//! ImportDeals: deals with their history from another CRM, checked one by
//! one ([`ImportedDeal::parse`]: a bad deal is reported and the rest go
//! on), written in batches of [`BATCH`] with their events.

use std::collections::HashMap;

use crm_fields::Definitions;
use crm_kit::{ApiError, ApiResult, auth::Caller, tenant::Tenant, time, validate::parse_id};
use crm_proto::pipeline::v1 as pb;
use sea_orm::TransactionTrait;
use tokio_stream::StreamExt;
use tonic::Streaming;

use super::Pipelines;
use crate::{
    domain::{
        PipelineWithStages, StageKind,
        import::{ImportedDeal, ImportedRows},
    },
    events, store,
};

/// Deals written per transaction.
const BATCH: usize = 500;
/// Errors reported at most.
const MAX_ERRORS: usize = 1000;

/// The pipelines an import names, each read once.
type PipelineCache = HashMap<String, Option<PipelineWithStages>>;

impl Pipelines {
    pub(super) async fn import_deals(
        &self,
        caller: Caller,
        mut stream: Streaming<pb::ImportDealsRequest>,
    ) -> ApiResult<pb::ImportDealsResponse> {
        let (mut pipelines, mut reply) = (PipelineCache::new(), pb::ImportDealsResponse::default());
        // The definitions as the import starts: one read for the whole stream.
        let defs = store::fields(&self.db, &Tenant::of(&caller)).await?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut index = 0_i64;
        while let Some(message) = stream.next().await {
            let req = match message {
                Ok(req) => req,
                Err(status) => {
                    // The client broke off: keep what was checked so far.
                    self.write(&caller, std::mem::take(&mut batch), &defs).await?;
                    let why = format!("the import stream failed: {}", status.message());
                    return Err(ApiError::invalid("stream", why));
                }
            };
            match self.check(&caller, &req, &mut pipelines, &defs).await? {
                Ok(rows) => batch.push(rows),
                Err((field, reason)) => {
                    reply.rejected += 1;
                    if reply.errors.len() < MAX_ERRORS {
                        reply.errors.push(pb::ImportError { index, field, reason });
                    }
                }
            }
            index += 1;
            if batch.len() == BATCH {
                reply.imported += self.write(&caller, std::mem::take(&mut batch), &defs).await?;
            }
        }
        reply.imported += self.write(&caller, batch, &defs).await?;
        Ok(reply)
    }

    /// Checks one deal; the inner error is (field, reason) for the caller.
    async fn check(
        &self,
        caller: &Caller,
        req: &pb::ImportDealsRequest,
        pipelines: &mut PipelineCache,
        defs: &Definitions,
    ) -> ApiResult<Result<ImportedRows, (String, String)>> {
        let Ok(pipeline_id) = parse_id("pipeline_id", &req.pipeline_id) else {
            return Ok(Err(("pipeline_id".into(), "must be a pipeline id".into())));
        };
        let (pipeline_id, tenant) = (pipeline_id.to_string(), Tenant::of(caller));
        if !pipelines.contains_key(&pipeline_id) {
            let found = store::pipelines::find(&self.db, &tenant, &pipeline_id).await?;
            pipelines.insert(pipeline_id.clone(), found);
        }
        let Some(Some(pipeline)) = pipelines.get(&pipeline_id) else {
            let why = format!("pipeline {pipeline_id} does not exist");
            return Ok(Err(("pipeline_id".into(), why)));
        };
        let kind_of = |id: &str| pipeline.stage(id).map(|s| StageKind::from_db(&s.kind));
        let now = time::now_micros();
        match ImportedDeal::parse(req, kind_of, defs, now) {
            Ok(d) => Ok(Ok(d.rows(&tenant, &caller.user_id, pipeline, now))),
            Err(ApiError::InvalidArgument(v)) => {
                let first = v.into_iter().next().map(|f| (f.field, f.description));
                Ok(Err(first.unwrap_or_else(|| ("".into(), "invalid".into()))))
            }
            Err(other) => Err(other),
        }
    }

    /// Writes one batch (deals, transitions, events) in one transaction.
    async fn write(&self, caller: &Caller, rows: Vec<ImportedRows>, defs: &Definitions) -> ApiResult<i64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin().await?;
        store::deals::insert_imported(&txn, &rows).await?;
        events::deals_imported(&txn, caller, &rows, defs).await?;
        txn.commit().await?;
        Ok(rows.len() as i64)
    }
}
