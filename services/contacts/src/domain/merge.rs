//! Merging a duplicate contact into a primary one.

use crm_kit::{ApiResult, etag::Target, validate::Violations};
use crm_proto::contacts::v1 as pb;
use uuid::Uuid;

use super::contact::ContactFields;

/// A MergeContacts request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The contact that stays, and the etag the caller read it at.
    pub primary: Target,
    /// The contact that is merged in and deleted.
    pub duplicate_id: Uuid,
}

impl Merge {
    /// Parses the request; a contact cannot be merged into itself.
    pub fn parse(req: &pb::MergeContactsRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let primary = v.required_id("primary_id", &req.primary_id);
        let duplicate = v.required_id("duplicate_id", &req.duplicate_id);
        let primary_etag = v
            .absorb(crm_kit::etag::parse("primary_etag", &req.primary_etag))
            .flatten();
        if primary.is_some() && primary == duplicate {
            v.add("duplicate_id", "must differ from primary_id");
        }
        let (primary_id, duplicate_id) = v.finish_with(primary.zip(duplicate))?;
        Ok(Self {
            primary: Target {
                id: primary_id.to_string(),
                etag: primary_etag,
            },
            duplicate_id,
        })
    }

    /// The primary's fields with what only the duplicate had added.
    pub fn merged(&self, primary: &ContactFields, duplicate: &ContactFields) -> ContactFields {
        let mut merged = primary.clone();
        merged.absorb(duplicate);
        merged
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
        assert_eq!(Merge::parse(&req).unwrap().primary.etag, Some(3));
    }
}
