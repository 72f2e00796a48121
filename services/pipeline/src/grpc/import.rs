//! ImportDeals: deals with their history from another CRM, checked one by
//! one (a bad deal is reported and the rest go on), written in batches.

use std::collections::HashMap;

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    outbox::{self, Event},
    time,
    validate::new_id,
};
use crm_proto::{events::v1 as ev, pipeline::v1 as pb};
use sea_orm::{EntityTrait, IntoActiveModel, TransactionTrait};
use tokio_stream::StreamExt;
use tonic::Streaming;

use super::{Pipelines, convert};
use crate::{
    domain::{StageKind, import::ImportedDeal},
    entity::{deal, transition},
    events::types,
    store::{self, PipelineWithStages},
};

/// Deals written per transaction.
const BATCH: usize = 500;
/// Errors reported at most.
const MAX_ERRORS: usize = 1000;

/// One checked deal, ready to write.
struct Row {
    deal: deal::Model,
    transitions: Vec<transition::Model>,
    event: ev::DealImported,
}

impl Pipelines {
    pub(super) async fn import_deals(
        &self,
        caller: Caller,
        mut stream: Streaming<pb::ImportDealsRequest>,
    ) -> ApiResult<pb::ImportDealsResponse> {
        let mut pipelines: HashMap<String, Option<PipelineWithStages>> = HashMap::new();
        let (mut batch, mut reply) = (Vec::with_capacity(BATCH), pb::ImportDealsResponse::default());
        let mut index = 0_i64;
        while let Some(message) = stream.next().await {
            let req = match message {
                Ok(req) => req,
                Err(status) => {
                    // The client broke off: keep what was checked so far.
                    self.write(&caller, std::mem::take(&mut batch)).await?;
                    return Err(ApiError::invalid(
                        "stream",
                        format!("the import stream failed: {}", status.message()),
                    ));
                }
            };
            match self.check(&caller, &req, &mut pipelines).await? {
                Ok(row) => batch.push(row),
                Err((field, reason)) => {
                    reply.rejected += 1;
                    if reply.errors.len() < MAX_ERRORS {
                        reply.errors.push(pb::ImportError { index, field, reason });
                    }
                }
            }
            index += 1;
            if batch.len() == BATCH {
                reply.imported += self.write(&caller, std::mem::take(&mut batch)).await?;
            }
        }
        reply.imported += self.write(&caller, batch).await?;
        Ok(reply)
    }

    /// Checks one deal; the inner error is (field, reason) for the caller.
    async fn check(
        &self,
        caller: &Caller,
        req: &pb::ImportDealsRequest,
        pipelines: &mut HashMap<String, Option<PipelineWithStages>>,
    ) -> ApiResult<Result<Row, (String, String)>> {
        let Ok(pipeline_id) = crm_kit::validate::parse_id("pipeline_id", &req.pipeline_id) else {
            return Ok(Err(("pipeline_id".into(), "must be a pipeline id".into())));
        };
        let pipeline_id = pipeline_id.to_string();
        if !pipelines.contains_key(&pipeline_id) {
            let found = store::pipelines::find(&self.db, &caller.tenant_id, &pipeline_id).await?;
            pipelines.insert(pipeline_id.clone(), found);
        }
        let Some(Some(pipeline)) = pipelines.get(&pipeline_id) else {
            return Ok(Err((
                "pipeline_id".into(),
                format!("pipeline {pipeline_id} does not exist"),
            )));
        };
        let kind_of = |id: &str| pipeline.stage(id).map(|s| StageKind::from_db(&s.kind));
        match ImportedDeal::parse(req, kind_of, time::now_micros()) {
            Ok(d) => Ok(Ok(row(caller, pipeline, d))),
            Err(ApiError::InvalidArgument(v)) => {
                let first = v.into_iter().next().map(|f| (f.field, f.description));
                Ok(Err(first.unwrap_or_else(|| ("".into(), "invalid".into()))))
            }
            Err(other) => Err(other),
        }
    }

    /// Writes one batch (deals, transitions, events) in one transaction.
    async fn write(&self, caller: &Caller, rows: Vec<Row>) -> ApiResult<i64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin().await?;
        let deals = rows.iter().map(|r| r.deal.clone().into_active_model());
        deal::Entity::insert_many(deals).exec_without_returning(&txn).await?;
        let transitions: Vec<_> = rows
            .iter()
            .flat_map(|r| r.transitions.iter().cloned().map(IntoActiveModel::into_active_model))
            .collect();
        // Each INSERT stays well under the databases' bind-parameter limits.
        for chunk in transitions.chunks(2000) {
            transition::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        let events: Vec<Event<'_, ev::DealImported>> = rows
            .iter()
            .map(|r| Event {
                event_type: types::DEAL_IMPORTED,
                aggregate_id: &r.deal.id,
                aggregate_version: 1,
                payload: &r.event,
            })
            .collect();
        for chunk in events.chunks(1000) {
            outbox::append_many(&txn, caller, chunk).await?;
        }
        txn.commit().await?;
        Ok(rows.len() as i64)
    }
}

/// The rows of one checked deal.
fn row(caller: &Caller, pipeline: &PipelineWithStages, d: ImportedDeal) -> Row {
    let id = new_id().to_string();
    let last = d.history.last().cloned();
    let amount = d.fields.amount.clone().flatten();
    let now = time::now_micros();
    let model = deal::Model {
        id: id.clone(),
        tenant_id: caller.tenant_id.clone(),
        pipeline_id: pipeline.pipeline.id.clone(),
        stage_id: last.as_ref().map(|e| e.stage_id.clone()).unwrap_or_default(),
        status: d.status().as_str().to_owned(),
        title: d.fields.title.clone().unwrap_or_default(),
        amount_minor: amount.as_ref().map(|a| a.minor),
        currency: amount.map(|a| a.currency),
        contact_id: d.fields.contact_id.clone().flatten(),
        company_id: d.fields.company_id.clone().flatten(),
        owner_id: d.fields.owner_id.clone().unwrap_or_else(|| caller.user_id.clone()),
        expected_close_date: d.fields.expected_close_date.clone().flatten(),
        lost_reason: d.lost_reason.clone(),
        stage_entered_at: last.as_ref().map_or(d.create_time, |e| e.at),
        closed_at: d.closed_at(),
        created_at: d.create_time,
        updated_at: now,
        version: 1,
    };
    let mut transitions = Vec::with_capacity(d.history.len());
    let mut previous: Option<&crate::domain::import::Entry> = None;
    for (i, e) in d.history.iter().enumerate() {
        let is_last = i + 1 == d.history.len();
        transitions.push(transition::Model {
            id: new_id().to_string(),
            tenant_id: caller.tenant_id.clone(),
            deal_id: id.clone(),
            from_stage_id: previous.map(|p| p.stage_id.clone()),
            to_stage_id: e.stage_id.clone(),
            actor_id: caller.user_id.clone(),
            moved_at: e.at,
            time_in_from_stage: previous.map(|p| e.at - p.at),
            lost_reason: if is_last { d.lost_reason.clone() } else { None },
        });
        previous = Some(e);
    }
    let probability = last
        .as_ref()
        .and_then(|e| pipeline.stage(&e.stage_id))
        .map_or(0, |s| s.probability);
    let event = ev::DealImported {
        deal: Some(convert::deal(&model, probability)),
        history: transitions.iter().map(convert::transition).collect(),
    };
    Row {
        deal: model,
        transitions,
        event,
    }
}
