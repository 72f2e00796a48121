//! Etags: a resource's version as an opaque string (`v7`). An update that names a
//! stale etag fails with ABORTED and changes nothing.

use crate::error::ApiError;

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
