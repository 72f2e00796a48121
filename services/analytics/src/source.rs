//! Where RebuildProjections reads from: the pipeline service's
//! ListPipelines and ExportDeals, called with the caller's token.

use std::time::Duration;

use crm_kit::{
    ApiError, ApiResult,
    auth::{self, Caller},
};
use crm_proto::pipeline::v1::{
    ExportDealsRequest, ExportDealsResponse, ListPipelinesRequest, Pipeline,
    pipeline_service_client::PipelineServiceClient,
};
use tonic::{Code, Request, Status, Streaming, transport::Channel};

/// A client of PipelineService for rebuilds.
#[derive(Clone, Debug)]
pub struct PipelineSource {
    client: PipelineServiceClient<Channel>,
}

impl PipelineSource {
    /// A client of the PipelineService at `url`, connecting on first use.
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        // A peer that is down is UNAVAILABLE quickly, not a hang.
        let channel = crm_kit::peer::channel(url, Duration::from_secs(2), None)?;
        Ok(Self {
            client: PipelineServiceClient::new(channel),
        })
    }

    /// Every pipeline of the caller's tenant.
    pub async fn pipelines(&self, caller: &Caller) -> ApiResult<Vec<Pipeline>> {
        let (mut all, mut token) = (Vec::new(), String::new());
        loop {
            let mut req = Request::new(ListPipelinesRequest {
                page_size: 500,
                page_token: token,
            });
            auth::forward(caller, &mut req)?;
            let page = self
                .client
                .clone()
                .list_pipelines(req)
                .await
                .map_err(peer)?
                .into_inner();
            all.extend(page.pipelines);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    /// The caller's tenant's settings (visibility).
    pub async fn settings(&self, caller: &Caller) -> ApiResult<crm_proto::pipeline::v1::TenantSettings> {
        let mut req = Request::new(crm_proto::pipeline::v1::GetTenantSettingsRequest {});
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().get_tenant_settings(req).await.map_err(peer)?;
        Ok(reply.into_inner().settings.unwrap_or_default())
    }

    /// The caller's tenant's custom deal fields, archived ones included.
    pub async fn fields(&self, caller: &Caller) -> ApiResult<Vec<crm_proto::common::v1::FieldDefinition>> {
        let mut req = Request::new(crm_proto::pipeline::v1::ListFieldDefinitionsRequest { include_archived: true });
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().list_field_definitions(req).await.map_err(peer)?;
        Ok(reply.into_inner().definitions)
    }

    /// Every deal of the caller's tenant with its history, as a stream.
    pub async fn deals(&self, caller: &Caller) -> ApiResult<Streaming<ExportDealsResponse>> {
        let mut req = Request::new(ExportDealsRequest::default());
        auth::forward(caller, &mut req)?;
        Ok(self.client.clone().export_deals(req).await.map_err(peer)?.into_inner())
    }
}

/// A failed call to the pipeline service, as this service reports it.
pub fn peer(status: Status) -> ApiError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable("the pipeline service"),
        Code::PermissionDenied | Code::Unauthenticated => {
            ApiError::PermissionDenied(format!("the pipeline service refused: {}", status.message()))
        }
        _ => ApiError::Internal(anyhow::anyhow!("the pipeline service answered {status}")),
    }
}
