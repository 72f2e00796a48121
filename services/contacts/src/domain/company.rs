//! Companies: their changeable fields and the updates that change them.

use crm_fields::{Definitions, values};
use crm_kit::{ApiError, ApiResult, etag::Target, validate::Violations};
use crm_proto::contacts::v1 as pb;

/// The longest company name.
pub const NAME_MAX: usize = 200;
/// The longest domain name (RFC 1035).
pub const DOMAIN_MAX: usize = 253;
/// The paths an UpdateCompany mask may name.
pub const UPDATABLE: &[&str] = &["name", "domain", "owner_id"];

/// How violations name a company's custom values.
pub const CUSTOM: &str = "company.custom_fields";

/// The changeable fields of a company, valid.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyFields {
    /// 1 to 200 characters, trimmed.
    pub name: String,
    /// Lower case; empty for none.
    pub domain: String,
    /// The owning user.
    pub owner_id: String,
    /// The stored custom values.
    pub custom: serde_json::Value,
}

impl CompanyFields {
    /// The company of a create request, its custom values checked against
    /// the tenant's company fields `defs`; the owner defaults to `caller_user`.
    pub fn parse(company: Option<&pb::Company>, caller_user: &str, defs: &Definitions) -> ApiResult<Self> {
        let company = company.ok_or_else(|| ApiError::invalid("company", "is required"))?;
        let mut v = Violations::new();
        let name = v.required_text("company.name", &company.name, NAME_MAX);
        let domain = parse_domain(&mut v, "company.domain", &company.domain);
        let owner_id = match company.owner_id.as_str() {
            "" => caller_user.to_owned(),
            owner => v.user_id("company.owner_id", owner),
        };
        let custom = values::for_create(&mut v, defs, &company.custom_fields, CUSTOM);
        v.finish()?;
        values::check_size(&custom, CUSTOM)?;
        Ok(Self {
            name,
            domain,
            owner_id,
            custom,
        })
    }
}

/// A web domain, lower-cased; empty stays empty (no domain).
pub fn parse_domain(v: &mut Violations, field: &str, raw: &str) -> String {
    let domain = raw.trim().to_lowercase();
    if domain.is_empty() {
        return domain;
    }
    if domain.chars().count() > DOMAIN_MAX {
        v.add(field, format!("must be at most {DOMAIN_MAX} characters"));
    } else if !is_plausible_domain(&domain) {
        v.add(field, "must be a domain name such as example.com");
    }
    domain
}

/// Dot-separated labels of letters, digits and inner hyphens, at least two.
pub fn is_plausible_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// An UpdateCompany request, parsed: which company, the etag, and the new
/// value of each masked field.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyUpdate {
    /// The company and the etag the caller read.
    pub target: Target,
    name: Option<String>,
    domain: Option<String>,
    owner_id: Option<String>,
    custom: Option<values::Edit>,
}

impl CompanyUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdateCompanyRequest) -> ApiResult<Self> {
        let company = req
            .company
            .as_ref()
            .ok_or_else(|| ApiError::invalid("company", "is required"))?;
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "company.id", &company.id, "company.etag", &company.etag);
        let paths = super::mask::parse(&mut v, req.update_mask.as_ref(), UPDATABLE);
        let has = |p: &str| paths.contains(&p);
        let name = has("name").then(|| v.required_text("company.name", &company.name, NAME_MAX));
        let domain = has("domain").then(|| parse_domain(&mut v, "company.domain", &company.domain));
        let owner_id = has("owner_id").then(|| v.user_id("company.owner_id", &company.owner_id));
        let target = v.finish_with(target)?;
        let all: Vec<&str> = req
            .update_mask
            .iter()
            .flat_map(|m| m.paths.iter().map(String::as_str))
            .collect();
        Ok(Self {
            target,
            name,
            domain,
            owner_id,
            custom: values::Edit::from_mask(&all, &company.custom_fields),
        })
    }

    /// The fields after the update (custom values checked against `defs`),
    /// and the names of those that changed.
    pub fn apply(&self, current: &CompanyFields, defs: &Definitions) -> ApiResult<(CompanyFields, Vec<String>)> {
        let mut next = current.clone();
        let mut changed = Vec::new();
        let mut set = |slot: &mut String, value: &Option<String>, name: &str| {
            if let Some(value) = value.as_ref().filter(|v| *v != slot) {
                slot.clone_from(value);
                changed.push(name.to_owned());
            }
        };
        set(&mut next.name, &self.name, "name");
        set(&mut next.domain, &self.domain, "domain");
        set(&mut next.owner_id, &self.owner_id, "owner_id");
        if let Some(edit) = &self.custom {
            let change = edit.apply(defs, &current.custom, CUSTOM)?;
            next.custom = change.stored;
            changed.extend(change.changed);
        }
        Ok((next, changed))
    }
}

#[cfg(test)]
mod tests {
    use prost_types::FieldMask;

    use super::*;

    fn company(name: &str, domain: &str) -> pb::Company {
        pb::Company {
            name: name.into(),
            domain: domain.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_company_is_owned_by_the_caller_and_its_domain_lower_cased() {
        let f = CompanyFields::parse(Some(&company(" Acme ", "Acme.COM")), "ann", &Definitions::default()).unwrap();
        assert_eq!(
            (f.name.as_str(), f.domain.as_str(), f.owner_id.as_str()),
            ("Acme", "acme.com", "ann")
        );
    }

    #[test]
    fn an_empty_name_and_a_bad_domain_are_both_reported() {
        let Err(ApiError::InvalidArgument(v)) =
            CompanyFields::parse(Some(&company("", "no dots")), "ann", &Definitions::default())
        else {
            panic!("expected violations")
        };
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["company.name", "company.domain"]);
    }

    #[test]
    fn a_name_over_200_characters_is_rejected() {
        assert!(CompanyFields::parse(Some(&company(&"x".repeat(201), "")), "ann", &Definitions::default()).is_err());
    }

    #[test]
    fn an_update_changes_only_masked_fields_and_reports_real_changes() {
        let req = pb::UpdateCompanyRequest {
            company: Some(pb::Company {
                id: crm_kit::validate::new_id().to_string(),
                name: "Acme".into(),
                domain: "new.example".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["name".into(), "domain".into()],
            }),
        };
        let update = CompanyUpdate::parse(&req).unwrap();
        let current = CompanyFields {
            name: "Acme".into(),
            domain: "old.example".into(),
            owner_id: "ann".into(),
            custom: serde_json::json!({}),
        };
        let (next, changed) = update.apply(&current, &Definitions::default()).unwrap();
        assert_eq!(next.domain, "new.example");
        assert_eq!(next.owner_id, "ann");
        assert_eq!(changed, ["domain"]);
    }

    #[test]
    fn an_update_without_a_mask_is_rejected() {
        let req = pb::UpdateCompanyRequest {
            company: Some(pb::Company {
                id: crm_kit::validate::new_id().to_string(),
                ..Default::default()
            }),
            update_mask: None,
        };
        let Err(ApiError::InvalidArgument(v)) = CompanyUpdate::parse(&req) else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "update_mask");
    }
}
