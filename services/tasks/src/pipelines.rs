//! The synchronous question the tasks service asks PipelineService when a
//! rule is saved: does this pipeline (and stage) exist for the caller's
//! tenant? The caller's token is forwarded, so the answer is the caller's view.

use std::time::Duration;

use crm_kit::{
    ApiError,
    auth::{self, Caller},
};
use crm_proto::pipeline::v1::{GetPipelineRequest, Pipeline, pipeline_service_client::PipelineServiceClient};
use tonic::{Code, Request, transport::Channel};

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
        match self.client.clone().get_pipeline(req).await {
            Ok(reply) => reply
                .into_inner()
                .pipeline
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("pipeline service answered no pipeline"))),
            Err(s) if s.code() == Code::NotFound => Err(ApiError::precondition(
                "REFERENCE_NOT_FOUND",
                field,
                format!("{field}: pipeline {id} does not exist"),
            )),
            Err(s) if matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled) => {
                tracing::warn!(status = %s, "pipeline service unreachable");
                Err(ApiError::Unavailable("the pipeline service"))
            }
            Err(s) => Err(ApiError::Internal(anyhow::anyhow!("pipeline service answered {s}"))),
        }
    }
}
