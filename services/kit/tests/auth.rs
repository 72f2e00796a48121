//! Token verification with real keys: HS256 with the secret, RS256 and
//! ES256 with JWKS keys chosen by `kid` (two RSA keys published at once, as
//! during a rotation), and every way a token must be refused.
//! The keys under `tests/keys` are test keys, generated for these tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use crm_kit::auth::{AuthConfig, TokenVerifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn verifier(issuer: Option<&str>, audience: Option<&str>) -> TokenVerifier {
    TokenVerifier::new(&AuthConfig {
        secret: SECRET.into(),
        jwks: Some(String::from_utf8(key_file("jwks.json")).unwrap()),
        issuer: issuer.map(Into::into),
        audience: audience.map(Into::into),
    })
    .unwrap()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims(extra: Value) -> Value {
    let mut c = json!({"sub": "ann", "tid": "acme", "roles": ["rep"], "exp": now() + 600, "iat": now()});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(Into::into);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rsa(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file(name)).unwrap()
}

fn ec(name: &str) -> EncodingKey {
    EncodingKey::from_ec_pem(&key_file(name)).unwrap()
}

fn hs(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret)
}

fn refused(v: &TokenVerifier, token: &str, why: &str) {
    let err = v.verify(token).map(|c| c.user_id).unwrap_err();
    assert!(matches!(err, crm_kit::ApiError::Unauthenticated(_)), "{why}: {err:?}");
}

#[test]
fn hs256_rs256_and_es256_tokens_verify_with_their_keys() {
    let v = verifier(None, None);
    let c = claims(json!({}));
    for token in [
        sign(Algorithm::HS256, None, &hs(SECRET.as_bytes()), &c),
        sign(Algorithm::RS256, Some("rsa-1"), &rsa("rsa-1.pem"), &c),
        // The next key, published beside the current one: both verify.
        sign(Algorithm::RS256, Some("rsa-2"), &rsa("rsa-2.pem"), &c),
        sign(Algorithm::ES256, Some("ec-1"), &ec("ec-1.pem"), &c),
    ] {
        let caller = v.verify(&token).unwrap();
        assert_eq!((caller.tenant_id.as_str(), caller.user_id.as_str()), ("acme", "ann"));
        assert_eq!(caller.roles, ["rep"]);
    }
}

#[test]
fn tokens_signed_with_the_wrong_key_or_naming_no_key_are_refused() {
    let v = verifier(None, None);
    let c = claims(json!({}));
    refused(
        &v,
        &sign(Algorithm::RS256, Some("rsa-1"), &rsa("rsa-2.pem"), &c),
        "rsa-2's signature under kid rsa-1",
    );
    refused(
        &v,
        &sign(Algorithm::RS256, Some("rsa-9"), &rsa("rsa-1.pem"), &c),
        "an unknown kid",
    );
    refused(&v, &sign(Algorithm::RS256, None, &rsa("rsa-1.pem"), &c), "no kid");
    refused(
        &v,
        &sign(Algorithm::HS256, None, &hs(b"another-secret-another-secret-00"), &c),
        "another secret",
    );
    // A verifier without the JWKS knows no RSA key at all.
    let hs_only = TokenVerifier::new(&AuthConfig::hs256(SECRET)).unwrap();
    refused(
        &hs_only,
        &sign(Algorithm::RS256, Some("rsa-1"), &rsa("rsa-1.pem"), &c),
        "no JWKS configured",
    );
}

#[test]
fn alg_none_and_algorithm_confusion_are_refused() {
    let v = verifier(None, None);
    let c = claims(json!({}));
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    // alg none, with and without a signature part.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&c));
    refused(&v, &none, "alg none");
    refused(&v, none.trim_end_matches('.'), "alg none, two parts");
    // HS256 with an RSA public key (the JWKS's own text) as the HMAC secret,
    // naming that key: the classic confusion attack.
    let public = key_file("jwks.json");
    refused(
        &v,
        &sign(Algorithm::HS256, Some("rsa-1"), &hs(&public), &c),
        "HS256 keyed with public key text",
    );
    // An ES256 header naming an RSA key, and an RS256 header naming the EC key.
    let es_on_rsa = sign(Algorithm::ES256, Some("rsa-1"), &ec("ec-1.pem"), &c);
    refused(&v, &es_on_rsa, "ES256 under an RSA kid");
    let rs_on_ec = sign(Algorithm::RS256, Some("ec-1"), &rsa("rsa-1.pem"), &c);
    refused(&v, &rs_on_ec, "RS256 under an EC kid");
    // Algorithms outside the three.
    refused(&v, &sign(Algorithm::HS384, None, &hs(SECRET.as_bytes()), &c), "HS384");
    refused(
        &v,
        &sign(Algorithm::PS256, Some("rsa-1"), &rsa("rsa-1.pem"), &c),
        "PS256",
    );
}

#[test]
fn exp_and_nbf_hold_with_a_small_leeway() {
    let v = verifier(None, None);
    let key = rsa("rsa-1.pem");
    let ok = |extra: Value| {
        v.verify(&sign(Algorithm::RS256, Some("rsa-1"), &key, &claims(extra)))
            .is_ok()
    };
    assert!(ok(json!({"exp": now() - 10})), "expired 10 s ago: within the leeway");
    assert!(!ok(json!({"exp": now() - 120})), "expired 2 min ago");
    assert!(ok(json!({"nbf": now() + 10})), "valid in 10 s: within the leeway");
    assert!(!ok(json!({"nbf": now() + 120})), "valid only in 2 min");
    let no_exp = json!({"sub": "ann", "tid": "acme"});
    refused(&v, &sign(Algorithm::RS256, Some("rsa-1"), &key, &no_exp), "no exp");
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let v = verifier(Some("https://id.example"), Some("crm"));
    let key = ec("ec-1.pem");
    let token = |extra: Value| sign(Algorithm::ES256, Some("ec-1"), &key, &claims(extra));
    assert!(
        v.verify(&token(json!({"iss": "https://id.example", "aud": "crm"})))
            .is_ok()
    );
    assert!(
        v.verify(&token(json!({"iss": "https://id.example", "aud": ["other", "crm"]})))
            .is_ok()
    );
    refused(&v, &token(json!({"aud": "crm"})), "no iss");
    refused(
        &v,
        &token(json!({"iss": "https://evil.example", "aud": "crm"})),
        "another iss",
    );
    refused(&v, &token(json!({"iss": "https://id.example"})), "no aud");
    refused(
        &v,
        &token(json!({"iss": "https://id.example", "aud": "billing"})),
        "another aud",
    );
}

#[test]
fn a_jwks_it_cannot_use_is_a_startup_error() {
    let bad = |jwks: &str| {
        TokenVerifier::new(&AuthConfig {
            secret: SECRET.into(),
            jwks: Some(jwks.into()),
            ..AuthConfig::default()
        })
        .is_err()
    };
    assert!(bad("not json"));
    assert!(
        bad(r#"{"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}"#),
        "a symmetric key"
    );
    let mut set: Value = serde_json::from_slice(&key_file("jwks.json")).unwrap();
    set["keys"][0].as_object_mut().unwrap().remove("kid");
    assert!(bad(&set.to_string()), "a key without kid");
}
