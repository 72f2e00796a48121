//! The caller's identity, from a verified JWT bearer token.
//!
//! Tokens carry `sub` (user id), `tid` (tenant id), `roles` and `exp`, and
//! are signed with HS256 and the configured secret. Every service verifies
//! them itself, so a backend reached directly is no back door.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status, metadata::MetadataValue, service::Interceptor};

use crate::error::ApiError;

/// The roles a token may carry.
pub const ROLES: [&str; 4] = ["admin", "manager", "rep", "viewer"];

/// Who is calling: taken from a verified token, never from the request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user id (`sub`).
    pub user_id: String,
    /// The tenant id (`tid`): every read and write is scoped to it.
    pub tenant_id: String,
    /// The caller's roles.
    pub roles: Vec<String>,
    /// The raw token, forwarded on calls to other services.
    pub token: String,
}

/// The claims of a suite token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tid: String,
    /// The roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    #[serde(default)]
    pub iat: u64,
}

/// Verifies tokens and mints development tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenVerifier {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(HS256)")
    }
}

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
        }
    }

    /// Verifies `token` and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| ApiError::Unauthenticated(format!("invalid token: {e}")))?;
        let claims = data.claims;
        let valid_id = |s: &str| !s.is_empty() && s.len() <= 100 && !s.contains(char::is_whitespace);
        if !valid_id(&claims.sub) || !valid_id(&claims.tid) {
            return Err(ApiError::Unauthenticated(
                "invalid token: sub and tid must be 1 to 100 characters without spaces".into(),
            ));
        }
        Ok(Caller {
            user_id: claims.sub,
            tenant_id: claims.tid,
            roles: claims.roles,
            token: token.to_owned(),
        })
    }

    /// Mints a token for development and tests.
    pub fn mint(&self, tenant: &str, user: &str, roles: &[&str], ttl_secs: u64) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.to_owned(),
            tid: tenant.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            exp: now + ttl_secs,
            iat: now,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }
}

/// A tonic interceptor that rejects calls without a valid bearer token
/// (UNAUTHENTICATED) and puts the [`Caller`] into the request extensions.
#[derive(Clone, Debug)]
pub struct Authenticate(pub Arc<TokenVerifier>);

impl Interceptor for Authenticate {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing bearer token in `authorization`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .ok_or_else(|| Status::unauthenticated("`authorization` must be `Bearer <token>`"))?;
        let caller = self.0.verify(token.trim())?;
        req.extensions_mut().insert(caller);
        Ok(req)
    }
}

/// The verified caller of a request that passed [`Authenticate`].
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}

/// Adds the caller's token to an outgoing request, for service-to-service calls.
pub fn forward<T>(caller: &Caller, req: &mut Request<T>) -> Result<(), ApiError> {
    let value = MetadataValue::try_from(format!("Bearer {}", caller.token))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("token is not ASCII: {e}")))?;
    req.metadata_mut().insert("authorization", value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_to_its_caller() {
        let v = TokenVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        let token = v.mint("acme", "ann", &["rep"], 60);
        let caller = v.verify(&token).unwrap();
        assert_eq!((caller.tenant_id.as_str(), caller.user_id.as_str()), ("acme", "ann"));
        assert_eq!(caller.roles, ["rep"]);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let ours = TokenVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        let theirs = TokenVerifier::hs256(b"fedcba9876543210fedcba9876543210");
        let token = theirs.mint("acme", "ann", &["rep"], 60);
        assert!(matches!(ours.verify(&token), Err(ApiError::Unauthenticated(_))));
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let v = TokenVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "ann".into(),
            tid: "acme".into(),
            roles: vec![],
            exp: now - 3600,
            iat: now - 7200,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &v.encoding).unwrap();
        assert!(v.verify(&token).is_err());
    }
}
