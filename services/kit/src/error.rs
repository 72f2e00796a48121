//! The one error type of every handler, and its mapping to a gRPC status
//! with `google.rpc` details.
//!
//! Services convert their domain errors into [`ApiError`]; nothing else
//! builds a `tonic::Status`. An [`ApiError::Internal`] logs its cause and
//! gives the caller an opaque message, so no database text ever leaks.

use std::{collections::HashMap, time::Duration};

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `google.rpc.ErrorInfo` domain of every error of the suite.
pub const ERROR_DOMAIN: &str = "crm.example.com";

/// The most field violations one BadRequest lists; past it, a last entry
/// says how many more there were. With [`MAX_DETAIL_TEXT`] and
/// [`MAX_MESSAGE`] this keeps every error's trailers under 16 KiB, the
/// smallest header-list limit a gRPC client has by default.
pub const MAX_VIOLATIONS: usize = 20;

/// The longest field path or description in an error's details, in bytes
/// (longer ones are cut, at a character boundary, and end in `…`).
pub const MAX_DETAIL_TEXT: usize = 160;

/// The longest `grpc-message` of an error, in bytes (cut likewise).
pub const MAX_MESSAGE: usize = 1024;

/// `text` cut to at most `max` bytes at a character boundary, with `…` at
/// the cut.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// One bad field of a request: its path (e.g. `deal.amount.currency_code`)
/// and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, in proto field names.
    pub field: String,
    /// What is wrong, in a sentence the caller can act on.
    pub description: String,
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input: INVALID_ARGUMENT with a BadRequest naming each field.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The resource does not exist (or belongs to another tenant): NOT_FOUND.
    #[error("{resource_type} {name} not found")]
    NotFound {
        /// The kind of resource, e.g. `deal`.
        resource_type: &'static str,
        /// Its id as the caller gave it.
        name: String,
    },
    /// A unique value is taken: ALREADY_EXISTS naming the existing resource.
    #[error("{description}")]
    AlreadyExists {
        /// The kind of the existing resource.
        resource_type: &'static str,
        /// The existing resource's id.
        name: String,
        /// What collided.
        description: String,
    },
    /// The caller's etag is stale: ABORTED with ErrorInfo `ETAG_MISMATCH`.
    #[error("{resource_type} {name} was changed since etag {given}; read it again and retry")]
    EtagMismatch {
        /// The kind of resource.
        resource_type: &'static str,
        /// Its id.
        name: String,
        /// The etag the caller sent.
        given: String,
    },
    /// A concurrent change collided with this one: ABORTED, safe to retry.
    #[error("the request collided with a concurrent change; retry it")]
    Conflict,
    /// The request is valid but the system is not in a state that allows
    /// it: FAILED_PRECONDITION with a PreconditionFailure.
    #[error("{description}")]
    FailedPrecondition {
        /// A short code for the kind of violation, e.g. `STAGE_NOT_EMPTY`.
        kind: &'static str,
        /// What the violation is about, e.g. `deal.contact_id`.
        subject: String,
        /// What is wrong, in a sentence.
        description: String,
    },
    /// A documented limit would be passed: RESOURCE_EXHAUSTED with a
    /// QuotaFailure naming what and the limit.
    #[error("{description}")]
    LimitExceeded {
        /// What the limit is about, e.g. `deal.custom_fields`.
        subject: String,
        /// The limit, in a sentence.
        description: String,
    },
    /// A page token that this service did not issue for this query.
    #[error("page_token is invalid: it was not issued for this query or was altered")]
    InvalidPageToken,
    /// No valid credentials: UNAUTHENTICATED.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the right: PERMISSION_DENIED.
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency (database, peer service) is down: UNAVAILABLE with RetryInfo.
    #[error("{0} is unavailable; retry later")]
    Unavailable(&'static str),
    /// A bug or an unexpected failure: INTERNAL with an opaque message; the
    /// cause is logged.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The message of `err`: its text, but a BadRequest's lists only the
/// violations its details list.
fn message(err: &ApiError) -> String {
    match err {
        ApiError::InvalidArgument(v) if v.len() > MAX_VIOLATIONS => {
            let listed = describe(&v[..MAX_VIOLATIONS]);
            format!("invalid argument: {listed}; and {} more", v.len() - MAX_VIOLATIONS)
        }
        other => other.to_string(),
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// A missing resource.
    pub fn not_found(resource_type: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound {
            resource_type,
            name: name.into(),
        }
    }

    /// A failed precondition about `subject`.
    pub fn precondition(kind: &'static str, subject: impl Into<String>, description: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            kind,
            subject: subject.into(),
            description: description.into(),
        }
    }

    /// A limit `subject` would pass.
    pub fn limit(subject: impl Into<String>, description: impl Into<String>) -> Self {
        Self::LimitExceeded {
            subject: subject.into(),
            description: description.into(),
        }
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) | Self::InvalidPageToken => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::EtagMismatch { .. } | Self::Conflict => Code::Aborted,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::LimitExceeded { .. } => Code::ResourceExhausted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        let code = err.code();
        let details = match &err {
            ApiError::InvalidArgument(violations) => {
                let mut d = ErrorDetails::new();
                for v in violations.iter().take(MAX_VIOLATIONS) {
                    d.add_bad_request_violation(
                        bounded(&v.field, MAX_DETAIL_TEXT),
                        bounded(&v.description, MAX_DETAIL_TEXT),
                    );
                }
                if let Some(more) = violations.len().checked_sub(MAX_VIOLATIONS).filter(|n| *n > 0) {
                    d.add_bad_request_violation(
                        "",
                        format!("and {more} more, not listed (at most {MAX_VIOLATIONS} are)"),
                    );
                }
                d
            }
            ApiError::NotFound { resource_type, name } => {
                ErrorDetails::with_resource_info(*resource_type, name, "", "not found")
            }
            ApiError::AlreadyExists {
                resource_type, name, ..
            } => ErrorDetails::with_error_info(
                "ALREADY_EXISTS",
                ERROR_DOMAIN,
                HashMap::from([
                    ("resource_type".to_owned(), (*resource_type).to_owned()),
                    ("existing_id".to_owned(), name.clone()),
                ]),
            ),
            ApiError::EtagMismatch { name, .. } => ErrorDetails::with_error_info(
                "ETAG_MISMATCH",
                ERROR_DOMAIN,
                HashMap::from([("resource".to_owned(), name.clone())]),
            ),
            ApiError::Conflict => ErrorDetails::with_retry_info(Some(Duration::from_millis(50))),
            ApiError::FailedPrecondition {
                kind,
                subject,
                description,
            } => ErrorDetails::with_precondition_failure_violation(*kind, subject, description),
            ApiError::LimitExceeded { subject, description } => {
                ErrorDetails::with_quota_failure_violation(bounded(subject, MAX_DETAIL_TEXT), description)
            }
            ApiError::InvalidPageToken => {
                ErrorDetails::with_error_info("INVALID_PAGE_TOKEN", ERROR_DOMAIN, HashMap::new())
            }
            ApiError::Unavailable(_) => ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                return Status::internal("internal error; it has been logged");
            }
            ApiError::Unauthenticated(_) | ApiError::PermissionDenied(_) => ErrorDetails::new(),
        };
        Status::with_error_details(code, bounded(&message(&err), MAX_MESSAGE), details)
    }
}

impl From<DbErr> for ApiError {
    /// Sorts database failures: an unreachable or saturated database is
    /// UNAVAILABLE, a unique-key race is a retryable conflict, the rest is
    /// INTERNAL (logged, never shown).
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            tracing::warn!(error = %err, "unique constraint race");
            return ApiError::Conflict;
        }
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::Unavailable("the database")
            }
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) if is_transient(e) => {
                tracing::warn!(error = %err, "database busy or unreachable");
                ApiError::Unavailable("the database")
            }
            _ => ApiError::Internal(anyhow::Error::new(err).context("database error")),
        }
    }
}

fn is_transient(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        // SQLite's "database is locked" / "busy" after the busy timeout.
        E::Database(db) => matches!(db.code().as_deref(), Some("5" | "6" | "517")),
        _ => false,
    }
}

/// The result of every handler step.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn a_validation_error_names_every_field_in_bad_request() {
        let err = ApiError::InvalidArgument(vec![
            FieldViolation {
                field: "deal.title".into(),
                description: "must not be empty".into(),
            },
            FieldViolation {
                field: "deal.amount".into(),
                description: "must not be negative".into(),
            },
        ]);
        let status = Status::from(err);
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<_> = status
            .get_details_bad_request()
            .expect("bad request details")
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["deal.title", "deal.amount"]);
    }

    #[test]
    fn a_bad_request_lists_twenty_violations_and_counts_the_rest() {
        let violations = (0..150)
            .map(|i| FieldViolation {
                field: format!("contact.emails[{i}]"),
                description: format!("{:?} is not an email address", "x".repeat(500)),
            })
            .collect();
        let status = Status::from(ApiError::InvalidArgument(violations));
        let listed = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(listed.len(), MAX_VIOLATIONS + 1);
        assert_eq!(
            listed[MAX_VIOLATIONS].description,
            "and 130 more, not listed (at most 20 are)"
        );
        assert!(listed.iter().all(|v| v.description.len() <= MAX_DETAIL_TEXT));
        assert!(status.message().len() <= MAX_MESSAGE);
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        let size: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 32).sum();
        assert!(size < 16 * 1024, "the trailers take {size} bytes");
    }

    #[test]
    fn a_cut_text_ends_at_a_character_boundary() {
        assert_eq!(bounded("ééé", 5), "é…");
        assert_eq!(bounded("short", 160), "short");
    }

    #[test]
    fn an_internal_error_hides_its_cause_from_the_caller() {
        let err = ApiError::Internal(anyhow::anyhow!("relation \"deals\" does not exist"));
        let status = Status::from(err);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("deals"));
    }
}
