//! The custom contact and company fields' definitions: their life cycle is
//! [`crm_fields::Owner`]'s, shared with PipelineService; these handlers
//! parse (the record type first) and reply.

use crm_fields::edit::{DefinitionUpdate, parse_key};
use crm_kit::{ApiResult, auth::Caller, etag, idempotency::RequestKey};
use crm_proto::contacts::v1 as pb;

use super::Contacts;
use crate::events::CONTACT_FIELDS as OWNER;

impl Contacts {
    pub(super) async fn create_field_definition(
        &self,
        caller: Caller,
        req: pb::CreateFieldDefinitionRequest,
    ) -> ApiResult<pb::CreateFieldDefinitionResponse> {
        let key = RequestKey::parse("CreateFieldDefinition", &req.request_id, &req)?;
        let input = req.definition.unwrap_or_default();
        let definition = OWNER.create(&self.db, &caller, &input, key).await?;
        Ok(pb::CreateFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn get_field_definition(
        &self,
        caller: Caller,
        req: pb::GetFieldDefinitionRequest,
    ) -> ApiResult<pb::GetFieldDefinitionResponse> {
        let rt = OWNER.record_type("record_type", req.record_type)?;
        let key = parse_key("key", &req.key)?;
        let definition = OWNER.get(&self.db, &caller, rt, &key).await?;
        Ok(pb::GetFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn list_field_definitions(
        &self,
        caller: Caller,
        req: pb::ListFieldDefinitionsRequest,
    ) -> ApiResult<pb::ListFieldDefinitionsResponse> {
        let rt = OWNER.record_type("record_type", req.record_type)?;
        let definitions = OWNER.list(&self.db, &caller, rt, req.include_archived).await?;
        Ok(pb::ListFieldDefinitionsResponse { definitions })
    }

    pub(super) async fn update_field_definition(
        &self,
        caller: Caller,
        req: pb::UpdateFieldDefinitionRequest,
    ) -> ApiResult<pb::UpdateFieldDefinitionResponse> {
        let input = req.definition.unwrap_or_default();
        let rt = OWNER.record_type("definition.record_type", input.record_type)?;
        let update = DefinitionUpdate::parse(&input, req.update_mask.as_ref(), &req.option_moves)?;
        let definition = OWNER.update(&self.db, &caller, rt, &update).await?;
        Ok(pb::UpdateFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn archive_field_definition(
        &self,
        caller: Caller,
        req: pb::ArchiveFieldDefinitionRequest,
    ) -> ApiResult<pb::ArchiveFieldDefinitionResponse> {
        let rt = OWNER.record_type("record_type", req.record_type)?;
        let (key, etag) = (parse_key("key", &req.key)?, etag::parse("etag", &req.etag)?);
        let definition = OWNER.archive(&self.db, &caller, rt, &key, etag).await?;
        Ok(pb::ArchiveFieldDefinitionResponse {
            definition: Some(definition),
        })
    }

    pub(super) async fn delete_field_definition(
        &self,
        caller: Caller,
        req: pb::DeleteFieldDefinitionRequest,
    ) -> ApiResult<pb::DeleteFieldDefinitionResponse> {
        let rt = OWNER.record_type("record_type", req.record_type)?;
        let (key, etag) = (parse_key("key", &req.key)?, etag::parse("etag", &req.etag)?);
        OWNER.delete(&self.db, &caller, rt, &key, etag).await?;
        Ok(pb::DeleteFieldDefinitionResponse {})
    }
}
