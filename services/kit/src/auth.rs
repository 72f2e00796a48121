//! The caller's identity, from a verified JWT bearer token.
//!
//! Tokens carry `sub` (user id), `tid` (tenant id), `roles` and `exp`, and
//! are signed with HS256 and the configured secret. Every service verifies
//! them itself, so a backend reached directly is no back door.

use std::{collections::HashMap, sync::Arc};

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet},
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status, metadata::MetadataValue, service::Interceptor};

use crate::error::ApiError;

/// The longest bearer token accepted, in bytes: a longer one is
/// UNAUTHENTICATED before anything of it is parsed (real tokens are well
/// under 2 KiB; this bounds what one header can cost every hop).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

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

impl Caller {
    /// Whether the token carries `role` (what each role may do is the
    /// CRM's business: `crm-tenancy`).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
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

/// How tokens are verified.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// The HS256 secret: it signs development tokens and the services' own,
    /// and verifies HS256 tokens.
    pub secret: String,
    /// A JWKS document (JSON): RS256 and ES256 tokens are verified with
    /// its key named by the token's `kid`.
    pub jwks: Option<String>,
    /// When set, a token's `iss` must be this.
    pub issuer: Option<String>,
    /// When set, a token's `aud` must include this.
    pub audience: Option<String>,
}

impl AuthConfig {
    /// HS256 tokens signed with `secret` only.
    pub fn hs256(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            ..Self::default()
        }
    }
}

/// Verifies tokens: HS256 with the configured secret, RS256 and ES256 with
/// the JWKS key their `kid` names (several keys may be published at once,
/// so keys rotate without downtime). `alg: none`, any other algorithm, and a
/// key used with an algorithm of another family (algorithm confusion) are
/// refused. `exp` and `nbf` are checked with a 30 s leeway; `iss` and `aud`
/// when configured. Also mints development tokens with the secret.
#[derive(Clone)]
pub struct TokenVerifier {
    decoding: DecodingKey,
    encoding: EncodingKey,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenVerifier(HS256, {} JWKS keys)", self.keys.len())
    }
}

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            keys: HashMap::new(),
            issuer: None,
            audience: None,
        }
    }

    /// A verifier as `config` says; fails on a JWKS document it cannot use.
    pub fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let mut v = Self::hs256(config.secret.as_bytes());
        v.issuer = config.issuer.clone();
        v.audience = config.audience.clone();
        if let Some(jwks) = &config.jwks {
            let set: JwkSet =
                serde_json::from_str(jwks).map_err(|e| anyhow::anyhow!("the JWKS is not a JWK set: {e}"))?;
            for jwk in &set.keys {
                let kid = jwk
                    .common
                    .key_id
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("every JWKS key needs a kid"))?;
                let alg = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                    _ => anyhow::bail!("JWKS key {kid}: only RSA (RS256) and P-256 (ES256) keys are accepted"),
                };
                let key = DecodingKey::from_jwk(jwk).map_err(|e| anyhow::anyhow!("JWKS key {kid}: {e}"))?;
                v.keys.insert(kid, (alg, key));
            }
        }
        Ok(v)
    }

    /// The key and the checks for a token with `header`.
    fn key_for(&self, header: &Header) -> Result<(&DecodingKey, Validation), ApiError> {
        let refuse = |why: String| ApiError::Unauthenticated(format!("invalid token: {why}"));
        let key = match header.alg {
            Algorithm::HS256 => &self.decoding,
            Algorithm::RS256 | Algorithm::ES256 => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| refuse(format!("{:?} tokens must name their key (kid)", header.alg)))?;
                match self.keys.get(kid) {
                    // The key's own family decides: an RSA key never checks
                    // an ES256 signature, nor any key an HS256 one.
                    Some((alg, key)) if *alg == header.alg => key,
                    Some(_) => return Err(refuse(format!("key {kid} is not a {:?} key", header.alg))),
                    None => return Err(refuse(format!("unknown key {kid}"))),
                }
            }
            other => return Err(refuse(format!("{other:?} is not accepted (HS256, RS256, ES256)"))),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok((key, validation))
    }

    /// Verifies `token` and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::Unauthenticated(format!(
                "invalid token: it is {} bytes; at most {MAX_TOKEN_BYTES} are accepted",
                token.len()
            )));
        }
        // A header that does not parse (`alg: none` among them) is refused here.
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| ApiError::Unauthenticated(format!("invalid token: {e}")))?;
        let (key, validation) = self.key_for(&header)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
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
            .and_then(bearer)
            .ok_or_else(|| Status::unauthenticated("`authorization` must be `Bearer <token>`"))?;
        let caller = self.0.verify(token)?;
        req.extensions_mut().insert(caller);
        Ok(req)
    }
}

/// The token of an `authorization` value `Bearer <token>` (or `bearer`).
pub fn bearer(authorization: &str) -> Option<&str> {
    authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .map(str::trim)
}

/// The verified caller of a request that passed [`Authenticate`].
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}

/// Adds the caller's token to an outgoing request, for service-to-service
/// calls, and the current trace context, so the callee's span continues
/// this call's trace.
pub fn forward<T>(caller: &Caller, req: &mut Request<T>) -> Result<(), ApiError> {
    let value = MetadataValue::try_from(format!("Bearer {}", caller.token))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("token is not ASCII: {e}")))?;
    req.metadata_mut().insert("authorization", value);
    if let Some(context) = crate::trace::TraceContext::current() {
        let parts = [("traceparent", context.traceparent), ("tracestate", context.tracestate)];
        for (key, value) in parts.into_iter().filter(|(_, v)| !v.is_empty()) {
            if let Ok(value) = MetadataValue::try_from(value) {
                req.metadata_mut().insert(key, value);
            }
        }
    }
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
    fn an_oversized_token_is_refused_before_it_is_parsed() {
        let v = TokenVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        let err = v.verify(&"x".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err();
        assert!(matches!(err, ApiError::Unauthenticated(m) if m.contains("8192")));
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
