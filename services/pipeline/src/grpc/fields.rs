//! The custom deal fields' definitions: their life cycle is
//! [`crm_fields::Owner`]'s, shared with ContactsService; these handlers
//! parse and reply.

use crm_fields::{
    RecordType,
    edit::{DefinitionUpdate, parse_key},
};
use crm_kit::{ApiResult, auth::Caller, etag, idempotency::RequestKey};
use crm_proto::pipeline::v1 as pb;

use super::Pipelines;
use crate::events::DEAL_FIELDS;

impl Pipelines {
    pub(super) async fn create_field_definition(
        &self,
        caller: Caller,
        req: pb::CreateFieldDefinitionRequest,
    ) -> ApiResult<pb::CreateFieldDefinitionResponse> {
        let key = RequestKey::parse("CreateFieldDefinition", &req.request_id, &req)?;
        let input = req.definition.unwrap_or_default();
        let definition = DEAL_FIELDS.create(&self.db, &caller, &input, key).await?;
        Ok(pb::CreateFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn get_field_definition(
        &self,
        caller: Caller,
        req: pb::GetFieldDefinitionRequest,
    ) -> ApiResult<pb::GetFieldDefinitionResponse> {
        let key = parse_key("key", &req.key)?;
        let definition = DEAL_FIELDS.get(self.reads(), &caller, RecordType::Deal, &key).await?;
        Ok(pb::GetFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn list_field_definitions(
        &self,
        caller: Caller,
        req: pb::ListFieldDefinitionsRequest,
    ) -> ApiResult<pb::ListFieldDefinitionsResponse> {
        let definitions = DEAL_FIELDS
            .list(self.reads(), &caller, RecordType::Deal, req.include_archived)
            .await?;
        Ok(pb::ListFieldDefinitionsResponse { definitions })
    }

    pub(super) async fn update_field_definition(
        &self,
        caller: Caller,
        req: pb::UpdateFieldDefinitionRequest,
    ) -> ApiResult<pb::UpdateFieldDefinitionResponse> {
        let input = req.definition.unwrap_or_default();
        let update = DefinitionUpdate::parse(&input, req.update_mask.as_ref(), &req.option_moves)?;
        let definition = DEAL_FIELDS.update(&self.db, &caller, RecordType::Deal, &update).await?;
        Ok(pb::UpdateFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn archive_field_definition(
        &self,
        caller: Caller,
        req: pb::ArchiveFieldDefinitionRequest,
    ) -> ApiResult<pb::ArchiveFieldDefinitionResponse> {
        let (key, etag) = (parse_key("key", &req.key)?, etag::parse("etag", &req.etag)?);
        let definition = DEAL_FIELDS
            .archive(&self.db, &caller, RecordType::Deal, &key, etag)
            .await?;
        Ok(pb::ArchiveFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn delete_field_definition(
        &self,
        caller: Caller,
        req: pb::DeleteFieldDefinitionRequest,
    ) -> ApiResult<pb::DeleteFieldDefinitionResponse> {
        let (key, etag) = (parse_key("key", &req.key)?, etag::parse("etag", &req.etag)?);
        DEAL_FIELDS
            .delete(&self.db, &caller, RecordType::Deal, &key, etag)
            .await?;
        Ok(pb::DeleteFieldDefinitionResponse {})
    }
}
