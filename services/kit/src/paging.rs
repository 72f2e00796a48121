//! List paging (AIP-158): `page_size` (default 50, at most 500) and an
//! opaque keyset `page_token`.
//!
//! A token is the last row's sort key, signed with HMAC-SHA256 over the key
//! and the query it was issued for: a token that was altered, or that is
//! replayed against a different filter, is INVALID_ARGUMENT
//! (`INVALID_PAGE_TOKEN`) rather than a silently wrong page.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The page size when the caller sends none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page size a caller may ask for.
pub const MAX_PAGE_SIZE: u64 = 500;

/// A parsed page request: how many rows, and after which sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// How many rows to return.
    pub size: u64,
    /// The sort key of the last row of the previous page.
    pub after: Option<C>,
}

/// Issues and verifies page tokens with a key derived from the service secret.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

impl PageTokens {
    /// Derives the signing key from the service secret, so every replica
    /// accepts the tokens of the others.
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"crm page tokens v1\0");
        hasher.update(secret);
        Self {
            key: hasher.finalize().into(),
        }
    }

    fn mac(&self, body: &[u8], query: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key size");
        mac.update(query.as_bytes());
        mac.update(b"\0");
        mac.update(body);
        mac
    }

    /// Parses `page_size` and `page_token` of a list request. `query`
    /// describes the request's filters; a token only works for the same query.
    pub fn parse<C: DeserializeOwned>(
        &self,
        page_size: i32,
        page_token: &str,
        query: &str,
    ) -> Result<PageRequest<C>, ApiError> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(ApiError::invalid("page_size", "must not be negative")),
            n if n as u64 > MAX_PAGE_SIZE => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n as u64,
        };
        if page_token.is_empty() {
            return Ok(PageRequest { size, after: None });
        }
        let after = self.verify(page_token, query).ok_or(ApiError::InvalidPageToken)?;
        Ok(PageRequest {
            size,
            after: Some(after),
        })
    }

    fn verify<C: DeserializeOwned>(&self, token: &str, query: &str) -> Option<C> {
        let (body, tag) = token.split_once('.')?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&body, query).verify_slice(&tag).ok()?;
        serde_json::from_slice(&body).ok()
    }

    /// The token of the page after the row whose sort key is `last`.
    pub fn issue<C: Serialize>(&self, last: &C, query: &str) -> String {
        let body = serde_json::to_vec(last).expect("sort keys serialize");
        let tag = self.mac(&body, query).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Trims a fetched page (fetched with `size + 1` rows) and returns the
    /// next page token, empty when this is the last page.
    pub fn finish<T, C: Serialize>(&self, rows: &mut Vec<T>, size: u64, query: &str, key: impl Fn(&T) -> C) -> String {
        if rows.len() as u64 <= size {
            return String::new();
        }
        rows.truncate(size as usize);
        rows.last().map(|row| self.issue(&key(row), query)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> PageTokens {
        PageTokens::new(b"secret")
    }

    #[test]
    fn a_token_round_trips_for_the_same_query() {
        let t = tokens().issue(&("k".to_owned(), 3), "q");
        let page: PageRequest<(String, i32)> = tokens().parse(10, &t, "q").unwrap();
        assert_eq!(page.after, Some(("k".to_owned(), 3)));
        assert_eq!(page.size, 10);
    }

    #[test]
    fn a_tampered_token_is_rejected() {
        let t = tokens().issue(&"abc", "q");
        let mut bytes = t.into_bytes();
        bytes[1] ^= 1;
        let tampered = String::from_utf8(bytes).unwrap();
        let err = tokens().parse::<String>(10, &tampered, "q").unwrap_err();
        assert!(matches!(err, ApiError::InvalidPageToken));
    }

    #[test]
    fn a_token_of_another_query_or_key_is_rejected() {
        let t = tokens().issue(&"abc", "q1");
        assert!(tokens().parse::<String>(10, &t, "q2").is_err());
        assert!(PageTokens::new(b"other").parse::<String>(10, &t, "q1").is_err());
    }

    #[test]
    fn page_size_defaults_to_50_and_above_500_is_rejected() {
        assert_eq!(tokens().parse::<String>(0, "", "").unwrap().size, 50);
        assert!(tokens().parse::<String>(501, "", "").is_err());
        assert!(tokens().parse::<String>(-1, "", "").is_err());
    }
}
