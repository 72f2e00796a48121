//! The shared runtime of the CRM services: configuration, telemetry,
//! database connect and migrate, the caller's identity from a verified JWT,
//! the error type and its gRPC mapping, paging, etags, request-id
//! idempotency, the transactional outbox, and the server bootstrap.
//!
//! Infrastructure only: no CRM type lives here.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bus;
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
pub mod settings;
pub mod telemetry;
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
