//! Parsing request fields into valid values, collecting every violation so
//! that one INVALID_ARGUMENT names all the bad fields at once.

use uuid::Uuid;

use crate::error::{ApiError, FieldViolation};

/// Collects field violations while a request is parsed.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is bad.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records the violations of a nested parse step.
    pub fn absorb<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ApiError::InvalidArgument(violations)) => {
                self.0.extend(violations);
                None
            }
            Err(other) => {
                self.add("", other.to_string());
                None
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else INVALID_ARGUMENT naming every field.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(self.0))
        }
    }

    /// Returns `value` when nothing was recorded; `value` must be `Some`
    /// whenever no violation was recorded.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, ApiError> {
        self.finish()?;
        value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("parse produced no value")))
    }

    /// A required text field, trimmed, of `1..=max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.check_text(field, value, max);
        }
        value.to_owned()
    }

    /// An optional text field, trimmed, of at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        self.check_text(field, value, max);
        value.to_owned()
    }

    fn check_text(&mut self, field: &str, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max {
            self.add(field, format!("must be at most {max} characters (got {len})"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.add(field, "must not contain control characters");
        }
    }

    /// A required id: a UUID in its canonical text form.
    pub fn required_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.optional_id(field, value)
    }

    /// An optional id: empty, or a UUID in its canonical text form.
    pub fn optional_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            return None;
        }
        match Uuid::try_parse(value) {
            Ok(id) if id.hyphenated().to_string() == value.to_ascii_lowercase() => Some(id),
            _ => {
                self.add(field, "must be a UUID such as 0190c6e4-8a1b-7cde-9f00-123456789abc");
                None
            }
        }
    }

    /// A user id (the `sub` of tokens): 1 to 100 visible characters.
    pub fn user_id(&mut self, field: &str, value: &str) -> String {
        if value.is_empty() || value.len() > 100 || value.chars().any(char::is_whitespace) {
            self.add(field, "must be 1 to 100 characters without spaces");
        }
        value.to_owned()
    }
}

/// A single required id, for requests that carry nothing else.
pub fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    let mut v = Violations::new();
    let id = v.required_id(field, value);
    v.finish_with(id)
}

/// Both parse results, or one INVALID_ARGUMENT naming the bad fields of
/// both (any other error of either as it is).
pub fn join<A, B>(a: Result<A, ApiError>, b: Result<B, ApiError>) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(ApiError::InvalidArgument(mut x)), Err(ApiError::InvalidArgument(y))) => {
            x.extend(y);
            Err(ApiError::InvalidArgument(x))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// A fresh id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_id_is_rejected_naming_the_field() {
        let err = parse_id("deal_id", "not-a-uuid").unwrap_err();
        assert!(matches!(err, ApiError::InvalidArgument(v) if v[0].field == "deal_id"));
    }

    #[test]
    fn a_bad_id_and_a_bad_etag_are_reported_together() {
        let Err(ApiError::InvalidArgument(v)) = crate::etag::Target::parse("x", "y") else {
            panic!("expected violations")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["id", "etag"]);
    }

    #[test]
    fn an_id_in_a_non_canonical_form_is_rejected() {
        let id = new_id().simple().to_string();
        assert!(parse_id("id", &id).is_err());
    }

    #[test]
    fn over_long_and_empty_texts_are_both_reported() {
        let mut v = Violations::new();
        v.required_text("name", "   ", 10);
        v.required_text("title", &"x".repeat(11), 10);
        let Err(ApiError::InvalidArgument(found)) = v.finish() else {
            panic!("expected violations")
        };
        assert_eq!(found.len(), 2);
    }
}
