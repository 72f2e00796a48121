//! ExportDeals: every deal of the tenant with its history, streamed in
//! pages so a large tenant never sits in memory at once.

use std::pin::Pin;

use crm_fields::Definitions;
use crm_kit::{ApiResult, auth::Caller, tenant::Tenant, validate::Violations};
use crm_proto::pipeline::v1 as pb;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::Status;

use super::Pipelines;
use crate::{convert, domain::DealFilter, store};

/// Deals read per page.
const PAGE: u64 = 500;

/// The stream ExportDeals answers with.
pub type ExportStream = Pin<Box<dyn Stream<Item = Result<pb::ExportDealsResponse, Status>> + Send>>;

impl Pipelines {
    pub(super) async fn export_deals(&self, caller: Caller, req: pb::ExportDealsRequest) -> ApiResult<ExportStream> {
        let mut v = Violations::new();
        let pipeline_id = v.optional_id("pipeline_id", &req.pipeline_id).map(|u| u.to_string());
        v.finish()?;
        let filter = DealFilter {
            pipeline_id,
            ..Default::default()
        };
        // A small buffer: the reader waits for a slow client instead of
        // reading the whole tenant ahead of it.
        let (tx, rx) = mpsc::channel(64);
        let tenant = Tenant::of(&caller);
        // The definitions as the export starts: one read for the whole stream.
        let defs = store::fields(self.reads(), &tenant).await?;
        tokio::spawn(pump(self.reads().clone(), tenant, (filter, defs), tx));
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}

async fn pump(
    db: DatabaseConnection,
    tenant: Tenant,
    (filter, defs): (DealFilter, Definitions),
    tx: mpsc::Sender<Result<pb::ExportDealsResponse, Status>>,
) {
    let mut after: Option<String> = None;
    loop {
        let page = match export_page(&db, &tenant, (&filter, &defs), after.as_deref()).await {
            Ok(page) => page,
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        };
        let Some(last) = page.last().and_then(|m| m.deal.as_ref()).map(|d| d.id.clone()) else {
            return;
        };
        let full = page.len() as u64 == PAGE;
        for message in page {
            if tx.send(Ok(message)).await.is_err() {
                return; // the client hung up
            }
        }
        if !full {
            return;
        }
        after = Some(last);
    }
}

async fn export_page(
    db: &DatabaseConnection,
    tenant: &Tenant,
    (filter, defs): (&DealFilter, &Definitions),
    after: Option<&str>,
) -> ApiResult<Vec<pb::ExportDealsResponse>> {
    let deals: Vec<_> = store::deals::list(db, tenant, filter, after, PAGE)
        .await?
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let ids: Vec<String> = deals.iter().map(|d| d.id.clone()).collect();
    let mut history = store::deals::histories(db, tenant, &ids).await?;
    let stages = store::pipelines::stages_by_id(db, tenant, deals.iter().map(|d| d.stage_id.clone())).await?;
    Ok(deals
        .iter()
        .map(|d| pb::ExportDealsResponse {
            deal: Some(convert::deal(
                d,
                stages.get(&d.stage_id).map_or(0, |s| s.probability),
                defs,
            )),
            history: history
                .remove(&d.id)
                .unwrap_or_default()
                .iter()
                .map(convert::transition)
                .collect(),
        })
        .collect())
}
