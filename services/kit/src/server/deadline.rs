//! The caller's deadline (`grpc-timeout`), answered as DEADLINE_EXCEEDED.
//!
//! tonic enforces `grpc-timeout` itself, but outside every layer a server
//! adds, and answers an expired call with CANCELLED ("Timeout expired"),
//! which reads as if the caller had gone away. This layer ends the call a
//! moment before tonic would, with DEADLINE_EXCEEDED, the code gRPC gives
//! an expired deadline, and inside the metrics, so they count it so.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::Response;
use tonic::{Status, body::Body};

/// How much earlier than the caller's deadline the call is ended, so that
/// this answer, not tonic's, is the one sent.
const AHEAD: Duration = Duration::from_millis(5);

/// The layer; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let within = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse);
        let reply = self.inner.call(req);
        Box::pin(async move {
            let Some(within) = within else {
                return reply.await;
            };
            match tokio::time::timeout(within.saturating_sub(AHEAD), reply).await {
                Ok(reply) => reply,
                Err(_) => Ok(Status::deadline_exceeded("the call's deadline passed before it finished").into_http()),
            }
        })
    }
}

/// A `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_nonsense_does_not() {
        assert_eq!(parse("8S"), Some(Duration::from_secs(8)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("7999999u"), Some(Duration::from_micros(7_999_999)));
        assert_eq!(parse("S"), None);
        assert_eq!(parse("123456789S"), None);
        assert_eq!(parse("5x"), None);
        assert_eq!(parse(""), None);
    }
}
