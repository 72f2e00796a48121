//! List filters, parsed, and the fingerprints that bind a page token to the
//! filters it was issued for.

use crm_fields::{Definitions, filter::FieldCondition};
use crm_kit::{ApiResult, validate::Violations};
use crm_proto::contacts::v1 as pb;
use uuid::Uuid;

/// The longest search text.
pub const QUERY_MAX: usize = 200;

/// A ListCompanies search: a lower-case prefix of name or domain, and
/// conditions on custom values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompanyQuery {
    /// The prefix; empty for any.
    pub query: String,
    /// Conditions on custom values (checked against the tenant's company fields).
    pub custom: Vec<FieldCondition>,
}

/// Parses a ListCompanies search, naming every bad part.
pub fn company_query(req: &pb::ListCompaniesRequest, defs: &Definitions) -> ApiResult<CompanyQuery> {
    let mut v = Violations::new();
    let query = v.optional_text("query", &req.query, QUERY_MAX).to_lowercase();
    let custom = v
        .absorb(crm_fields::filter::parse(defs, &req.field_filters))
        .unwrap_or_default();
    v.finish()?;
    Ok(CompanyQuery { query, custom })
}

/// The fingerprint of a ListCompanies search within an owner's records.
pub fn company_fingerprint(query: &CompanyQuery, owner: Option<&str>) -> String {
    let custom = format!("{:?}", query.custom);
    let parts = serde_json::json!([query.query, owner.unwrap_or(""), custom]);
    format!("companies?{parts}")
}

/// The filters of a ListContacts request; they combine with AND.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactFilter {
    /// A lower-case prefix of a name, "first last" or an email; empty for any.
    pub query: String,
    /// Only contacts of this company.
    pub company_id: Option<Uuid>,
    /// Only contacts with this tag (lower case); empty for any.
    pub tag: String,
    /// Only this owner's contacts (set by the caller's visibility, not the request).
    pub owner_id: Option<String>,
    /// Conditions on custom values.
    pub custom: Vec<FieldCondition>,
}

impl ContactFilter {
    /// Parses the filters (custom ones against the tenant's contact fields
    /// `defs`), naming every bad one.
    pub fn parse(req: &pb::ListContactsRequest, defs: &Definitions) -> ApiResult<Self> {
        let mut v = Violations::new();
        let filter = Self {
            query: v.optional_text("query", &req.query, QUERY_MAX).to_lowercase(),
            company_id: v.optional_id("company_id", &req.company_id),
            tag: v.optional_text("tag", &req.tag, super::contact::TAG_MAX).to_lowercase(),
            owner_id: None,
            custom: v
                .absorb(crm_fields::filter::parse(defs, &req.field_filters))
                .unwrap_or_default(),
        };
        v.finish()?;
        Ok(filter)
    }

    /// A stable description of the filters, binding page tokens to them.
    pub fn fingerprint(&self) -> String {
        // JSON keeps the parts apart whatever characters they contain.
        let company = self.company_id.map(|id| id.to_string()).unwrap_or_default();
        let custom = format!("{:?}", self.custom);
        let parts = serde_json::json!([self.query, company, self.tag, self.owner_id, custom]);
        format!("contacts?{parts}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_lower_cased() {
        let req = pb::ListContactsRequest {
            query: " Ann ".into(),
            tag: "VIP".into(),
            ..Default::default()
        };
        let f = ContactFilter::parse(&req, &Default::default()).unwrap();
        assert_eq!((f.query.as_str(), f.tag.as_str()), ("ann", "vip"));
    }

    #[test]
    fn different_filters_have_different_fingerprints() {
        let a = ContactFilter {
            query: "a".into(),
            ..Default::default()
        };
        let b = ContactFilter {
            tag: "a".into(),
            ..Default::default()
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn a_malformed_company_filter_is_rejected() {
        let req = pb::ListContactsRequest {
            company_id: "acme".into(),
            ..Default::default()
        };
        assert!(ContactFilter::parse(&req, &Default::default()).is_err());
    }
}
