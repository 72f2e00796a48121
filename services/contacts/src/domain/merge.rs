//! Merging a duplicate contact into a primary one.

use crm_kit::{ApiResult, etag, validate::Violations};
use crm_proto::contacts::v1 as pb;
use uuid::Uuid;

/// A MergeContacts request, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    /// The contact that stays.
    pub primary_id: Uuid,
    /// The contact that is merged in and deleted.
    pub duplicate_id: Uuid,
    /// The primary's etag, if the caller sent one.
    pub primary_etag: Option<i64>,
}

impl Merge {
    /// Parses the request; a contact cannot be merged into itself.
    pub fn parse(req: &pb::MergeContactsRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let primary = v.required_id("primary_id", &req.primary_id);
        let duplicate = v.required_id("duplicate_id", &req.duplicate_id);
        let primary_etag = v.absorb(etag::parse("primary_etag", &req.primary_etag)).flatten();
        if primary.is_some() && primary == duplicate {
            v.add("duplicate_id", "must differ from primary_id");
        }
        let (primary_id, duplicate_id) = v.finish_with(primary.zip(duplicate))?;
        Ok(Self {
            primary_id,
            duplicate_id,
            primary_etag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_a_contact_into_itself_is_rejected() {
        let id = crm_kit::validate::new_id().to_string();
        let req = pb::MergeContactsRequest {
            primary_id: id.clone(),
            duplicate_id: id,
            primary_etag: String::new(),
        };
        assert!(Merge::parse(&req).is_err());
    }

    #[test]
    fn two_different_contacts_can_be_merged() {
        let req = pb::MergeContactsRequest {
            primary_id: crm_kit::validate::new_id().to_string(),
            duplicate_id: crm_kit::validate::new_id().to_string(),
            primary_etag: crm_kit::etag::format(3),
        };
        assert_eq!(Merge::parse(&req).unwrap().primary_etag, Some(3));
    }
}
