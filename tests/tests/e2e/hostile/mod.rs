//! A hostile caller, through the gateway of `crm up` and straight at the
//! services: malformed gRPC frames and messages are the caller's mistake
//! ([`frames`]), an oversized error or token fails that call alone and no
//! other tenant's ([`sizes`]), and a caller that never finishes its
//! request is cut off ([`slow`]).

mod flood;
mod frames;
mod fuzz;
mod sizes;
mod slow;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use tonic::{Code, body::Body, transport::Channel};
use tower::ServiceExt;

/// What a raw gRPC call answered: its code and message.
#[derive(Debug)]
pub struct Answer {
    pub code: Code,
    pub message: String,
}

/// Posts `body` (already framed) to `path` on `channel` with `headers`.
pub async fn raw(channel: &Channel, path: &str, headers: &[(&str, String)], body: Bytes) -> Answer {
    raw_body(channel, path, headers, Body::new(http_body_util::Full::new(body))).await
}

/// Posts `body` to `path` on `channel` with `headers`, and reads the status.
pub async fn raw_body(channel: &Channel, path: &str, headers: &[(&str, String)], body: Body) -> Answer {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("http://crm{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_str(v).unwrap());
    }
    let req = req.body(body).unwrap();
    let reply = channel
        .clone()
        .oneshot(req)
        .await
        .expect("the call itself goes through");
    let (parts, body) = reply.into_parts();
    let from = |h: &http::HeaderMap| {
        let code = h.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
        let message = h
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .map(percent_decode)
            .unwrap_or_default();
        Some(Answer {
            code: Code::from(code),
            message,
        })
    };
    if let Some(a) = from(&parts.headers) {
        return a;
    }
    let collected = body.collect().await.expect("a body that ends");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    from(&trailers).unwrap_or(Answer {
        code: Code::Unknown,
        message: "no grpc-status".into(),
    })
}

/// `grpc-message` is percent-encoded.
fn percent_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(decoded) if b == b'%' => {
                out.push(decoded);
                rest = &tail[2..];
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A gRPC frame: the flag, the length prefix, the message.
pub fn frame(flag: u8, len: u32, message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(flag);
    b.put_u32(len);
    b.put_slice(message);
    b.freeze()
}

/// A well-framed message.
pub fn framed(message: &[u8]) -> Bytes {
    frame(0, u32::try_from(message.len()).unwrap(), message)
}
