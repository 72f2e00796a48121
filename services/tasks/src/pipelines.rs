//! The synchronous questions the tasks service asks PipelineService: does
//! this pipeline (and stage) exist, when a rule is saved; does this deal
//! exist, when a task names one? The caller's token is forwarded, so the
//! answer is the caller's view (another tenant's deal, or one hidden from
//! the caller, does not exist).

use std::time::Duration;

use crm_kit::{
    ApiError,
    auth::{self, Caller},
    peer,
};
use crm_proto::{
    common::v1::FieldDefinition,
    pipeline::v1::{
        GetDealRequest, GetPipelineRequest, ListFieldDefinitionsRequest, Pipeline,
        pipeline_service_client::PipelineServiceClient,
    },
};
use tonic::{Request, transport::Channel};

/// How the pipeline service is named when it is down.
const PEER: &str = "the pipeline service";

/// A client of PipelineService.
#[derive(Clone, Debug)]
pub struct PipelineDirectory {
    client: PipelineServiceClient<Channel>,
}

impl PipelineDirectory {
    /// A client of the PipelineService at `url`, connecting on first use, so
    /// tasks starts even while the pipeline service is still coming up.
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        // A peer that is down is UNAVAILABLE quickly, not a hang.
        let channel = crm_kit::peer::channel(url, Duration::from_secs(2), Some(Duration::from_secs(5)))?;
        Ok(Self {
            client: PipelineServiceClient::new(channel),
        })
    }

    /// The pipeline `id`, or FAILED_PRECONDITION naming `field` when it does
    /// not exist for the caller.
    pub async fn require_pipeline(&self, caller: &Caller, field: &str, id: &str) -> Result<Pipeline, ApiError> {
        let mut req = Request::new(GetPipelineRequest { id: id.to_owned() });
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().get_pipeline(req).await;
        let pipeline = peer::reference(reply, field, "pipeline", id, PEER)?
            .into_inner()
            .pipeline;
        pipeline.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("pipeline service answered no pipeline")))
    }

    /// The caller's tenant's active custom deal fields.
    pub async fn deal_fields(&self, caller: &Caller) -> Result<Vec<FieldDefinition>, ApiError> {
        let mut req = Request::new(ListFieldDefinitionsRequest {
            include_archived: false,
        });
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().list_field_definitions(req).await;
        Ok(
            peer::reference(reply, "rule.conditions", "field definitions", "", PEER)?
                .into_inner()
                .definitions,
        )
    }

    /// FAILED_PRECONDITION naming `field` unless the deal `id` exists for the caller.
    pub async fn require_deal(&self, caller: &Caller, field: &str, id: &str) -> Result<(), ApiError> {
        let mut req = Request::new(GetDealRequest { id: id.to_owned() });
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().get_deal(req).await;
        peer::reference(reply.map(drop), field, "deal", id, PEER)
    }
}
