//! Etags: a resource's version as an opaque string (`v7`). An update that names a
//! stale etag fails with ABORTED and changes nothing.

use crate::{error::ApiError, tenant::Record, validate::Violations};

/// The etag of a resource at `version`.
pub fn format(version: i64) -> String {
    format!("v{version}")
}

/// Parses the etag a caller sent; empty means "no check".
pub fn parse(field: &str, etag: &str) -> Result<Option<i64>, ApiError> {
    if etag.is_empty() {
        return Ok(None);
    }
    etag.strip_prefix('v')
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| ApiError::invalid(field, "is not an etag this service issued"))
}

/// Fails with ABORTED when the caller's etag names another version.
pub fn check(resource_type: &'static str, id: &str, given: Option<i64>, current: i64) -> Result<(), ApiError> {
    match given {
        Some(v) if v != current => Err(ApiError::EtagMismatch {
            resource_type,
            name: id.to_owned(),
            given: format(v),
        }),
        _ => Ok(()),
    }
}

/// The record a change or delete names: its id, and the etag the caller
/// read it at (`None`: no check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The record's id (a canonical UUID).
    pub id: String,
    /// The version the caller read.
    pub etag: Option<i64>,
}

impl Target {
    /// The `id` and `etag` fields of a request (named `id_field` and
    /// `etag_field`), each violation recorded in `v`.
    pub fn parse_in(v: &mut Violations, id_field: &str, id: &str, etag_field: &str, etag: &str) -> Option<Self> {
        let id = v.required_id(id_field, id);
        let etag = v.absorb(parse(etag_field, etag)).flatten();
        id.map(|id| Self {
            id: id.to_string(),
            etag,
        })
    }

    /// The `id` and `etag` of a request that carries nothing else.
    pub fn parse(id: &str, etag: &str) -> Result<Self, ApiError> {
        let mut v = Violations::new();
        let target = Self::parse_in(&mut v, "id", id, "etag", etag);
        v.finish_with(target)
    }

    /// ABORTED unless `record` is still at the version the caller read.
    pub fn check<R: Record>(&self, record: &R) -> Result<(), ApiError> {
        check(R::KIND, record.record_id(), self.etag, record.version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_round_trips_through_its_text_form() {
        assert_eq!(parse("etag", &format(7)).unwrap(), Some(7));
    }

    #[test]
    fn a_stale_etag_is_aborted() {
        let err = check("deal", "d1", Some(1), 2).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Aborted);
    }

    #[test]
    fn a_forged_etag_is_invalid() {
        assert!(parse("etag", "7").is_err());
        assert!(parse("etag", "v-1").is_err());
        assert!(parse("etag", "v+1").is_err());
    }
}
