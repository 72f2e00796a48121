//! List filters, parsed, and the fingerprints that bind a page token to the
//! filters it was issued for.

use crm_kit::{ApiResult, validate::Violations};
use crm_proto::contacts::v1 as pb;
use uuid::Uuid;

/// The longest search text.
pub const QUERY_MAX: usize = 200;

/// A ListCompanies search: a lower-case prefix of name or domain.
pub fn company_query(req: &pb::ListCompaniesRequest) -> ApiResult<String> {
    let mut v = Violations::new();
    let query = v.optional_text("query", &req.query, QUERY_MAX).to_lowercase();
    v.finish()?;
    Ok(query)
}

/// The fingerprint of a ListCompanies search within an owner's records.
pub fn company_fingerprint(query: &str, owner: Option<&str>) -> String {
    format!("companies?query={query}&owner={}", owner.unwrap_or(""))
}

/// The filters of a ListContacts request; they combine with AND.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactFilter {
    /// A lower-case prefix of a name, "first last" or an email; empty for any.
    pub query: String,
    /// Only contacts of this company.
    pub company_id: Option<Uuid>,
    /// Only contacts with this tag (lower case); empty for any.
    pub tag: String,
    /// Only this owner's contacts (set by the caller's visibility, not the request).
    pub owner_id: Option<String>,
}

impl ContactFilter {
    /// Parses the filters, naming every bad one.
    pub fn parse(req: &pb::ListContactsRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let filter = Self {
            query: v.optional_text("query", &req.query, QUERY_MAX).to_lowercase(),
            company_id: v.optional_id("company_id", &req.company_id),
            tag: v.optional_text("tag", &req.tag, super::contact::TAG_MAX).to_lowercase(),
            owner_id: None,
        };
        v.finish()?;
        Ok(filter)
    }

    /// A stable description of the filters, binding page tokens to them.
    pub fn fingerprint(&self) -> String {
        // JSON keeps the parts apart whatever characters they contain.
        let company = self.company_id.map(|id| id.to_string()).unwrap_or_default();
        let parts = serde_json::json!([self.query, company, self.tag, self.owner_id]);
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
        let f = ContactFilter::parse(&req).unwrap();
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
        assert!(ContactFilter::parse(&req).is_err());
    }
}
