//! The shared runtime of the CRM services: configuration, telemetry,
//! database connect and migrate, the caller's identity from a verified JWT,
//! the error type and its gRPC mapping, tenant-scoped queries and guarded
//! saves ([`tenant`]), paging, etags, request-id idempotency, the
//! transactional outbox and the bus, the server bootstrap, and what a
//! service hands to whoever runs it ([`startup`]).
//!
//! Infrastructure only: no CRM type lives here. What a role may do, who
//! sees which records and the tenant settings are the CRM's, in
//! `crm-tenancy`; the kit knows a caller's identity, not what it means.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bus;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod etag;
pub mod handler;
pub mod idempotency;
pub mod metrics;
pub mod migration;
pub mod outbox;
pub mod paging;
pub mod peer;
pub mod server;
pub mod startup;
pub mod telemetry;
pub mod tenant;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace;
pub mod validate;

pub use error::{ApiError, ApiResult};

/// What every service handler needs besides its database: the token
/// verifier and the page-token signer, both derived from the one secret.
#[derive(Clone, Debug)]
pub struct Shared {
    /// Verifies bearer tokens.
    pub verifier: std::sync::Arc<auth::TokenVerifier>,
    /// Signs and checks page tokens.
    pub page_tokens: paging::PageTokens,
}

impl Shared {
    /// Both from the HS256 secret.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            verifier: std::sync::Arc::new(auth::TokenVerifier::hs256(secret)),
            page_tokens: paging::PageTokens::new(secret),
        }
    }

    /// The verifier `auth` describes and the page-token signer of its secret.
    pub fn from_config(auth: &auth::AuthConfig) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: std::sync::Arc::new(auth::TokenVerifier::new(auth)?),
            page_tokens: paging::PageTokens::new(auth.secret.as_bytes()),
        })
    }

    /// The interceptor that authenticates every call of a service.
    pub fn authenticate(&self) -> auth::Authenticate {
        auth::Authenticate(self.verifier.clone())
    }
}
