//! The filters of ListDeals, parsed: every part optional, combined with AND.

use crm_fields::{Definitions, filter::FieldCondition};
use crm_kit::{ApiResult, validate::Violations};
use crm_proto::pipeline::v1 as pb;

use super::{DealStatus, fields::parse_date};

/// A valid ListDeals filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DealFilter {
    /// Only this pipeline.
    pub pipeline_id: Option<String>,
    /// Only this stage.
    pub stage_id: Option<String>,
    /// Only this owner.
    pub owner_id: Option<String>,
    /// Only this status (`open`, `won`, `lost`).
    pub status: Option<&'static str>,
    /// Expected to close on or after (`YYYY-MM-DD`).
    pub close_from: Option<String>,
    /// Expected to close on or before (`YYYY-MM-DD`).
    pub close_to: Option<String>,
    /// Only this contact's deals.
    pub contact_id: Option<String>,
    /// Only this company's deals.
    pub company_id: Option<String>,
    /// Conditions on custom values.
    pub custom: Vec<FieldCondition>,
}

impl DealFilter {
    /// Parses the request's filter fields (custom ones against the
    /// tenant's deal fields `defs`), naming every bad one.
    pub fn parse(req: &pb::ListDealsRequest, defs: &Definitions) -> ApiResult<Self> {
        let mut v = Violations::new();
        let status = match DealStatus::from_proto(req.status) {
            Ok(s) => s.map(DealStatus::as_str),
            Err(_) => {
                v.add("status", "is not a DealStatus value");
                None
            }
        };
        let filter = Self {
            pipeline_id: v.optional_id("pipeline_id", &req.pipeline_id).map(|u| u.to_string()),
            stage_id: v.optional_id("stage_id", &req.stage_id).map(|u| u.to_string()),
            owner_id: (!req.owner_id.is_empty()).then(|| v.user_id("owner_id", &req.owner_id)),
            status,
            close_from: req
                .expected_close_from
                .as_ref()
                .and_then(|d| parse_date(&mut v, "expected_close_from", d)),
            close_to: req
                .expected_close_to
                .as_ref()
                .and_then(|d| parse_date(&mut v, "expected_close_to", d)),
            contact_id: v.optional_id("contact_id", &req.contact_id).map(|u| u.to_string()),
            company_id: v.optional_id("company_id", &req.company_id).map(|u| u.to_string()),
            custom: v
                .absorb(crm_fields::filter::parse(defs, &req.field_filters))
                .unwrap_or_default(),
        };
        if let (Some(from), Some(to)) = (&filter.close_from, &filter.close_to)
            && from > to
        {
            v.add("expected_close_to", "must not be before expected_close_from");
        }
        v.finish()?;
        Ok(filter)
    }

    /// A stable description of the filter, binding page tokens to it.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}
