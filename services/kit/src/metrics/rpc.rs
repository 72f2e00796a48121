//! RPC counts and latencies: a tower layer for the tonic servers, and the
//! reply-body wrapper it (and the gateway) use to learn a call's code.
//!
//! A gRPC reply carries its code in the response headers when it failed
//! at once (trailers-only) and in the body's trailers otherwise, so a call
//! is counted when its body ends (or is dropped: a caller that went away
//! is CANCELLED), not when the handler returns.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, Response, StatusCode};
use http_body::{Body as _, Frame, SizeHint};
use tonic::{Code, Status, body::Body};

/// A tower layer that counts every RPC of a tonic server by service,
/// method and code. The service label comes from the method's `crm.<svc>`
/// package; calls outside those packages (health, reflection) are counted
/// under `default_service`.
#[derive(Clone, Debug)]
pub struct RpcMetricsLayer {
    default_service: Arc<str>,
}

impl RpcMetricsLayer {
    /// A layer counting calls outside the `crm.` packages under `default_service`.
    pub fn new(default_service: &str) -> Self {
        Self {
            default_service: default_service.into(),
        }
    }

    /// The layer of a server of `service_names` (fully-qualified): their
    /// one service label, or `suite` when it serves several.
    pub fn for_services(service_names: &[&str]) -> Self {
        match service_names {
            [one] => Self::new(super::service_label(one).unwrap_or(one)),
            _ => Self::new("suite"),
        }
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            default_service: self.default_service.clone(),
        }
    }
}

/// The service of [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RpcMetricsService<S> {
    inner: S,
    default_service: Arc<str>,
}

impl<S, B> tower::Service<http::Request<B>> for RpcMetricsService<S>
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
        let started = Instant::now();
        let method = req.uri().path().to_owned();
        let service = super::service_label(&method)
            .unwrap_or(&self.default_service)
            .to_owned();
        let reply = self.inner.call(req);
        Box::pin(async move { Ok(observe(service, method, started, reply.await?)) })
    }
}

/// How a call ended, as its reply's last frame (or its being dropped) tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// The call's code: the `grpc-status` of the headers or trailers, or
    /// for a reply that is not gRPC (the gateway's JSON) its HTTP status's
    /// nearest code; CANCELLED when the caller went away.
    pub code: Code,
    /// The body was dropped before its end: the caller went away.
    pub cancelled: bool,
}

/// Wraps `reply` so that `end` runs once, with how the call ended, when
/// the reply's last frame went out or the reply was dropped.
pub fn on_end(reply: Response<Body>, end: impl FnOnce(End) + Send + 'static) -> Response<Body> {
    let (head, inner) = reply.into_parts();
    let code = grpc_status(&head.headers).or_else(|| (!is_grpc(&head.headers)).then(|| from_http(head.status)));
    let observed = Observed {
        inner,
        code,
        end: Some(Box::new(end)),
    };
    Response::from_parts(head, Body::new(observed))
}

/// Wraps `reply` so that the call is counted under `service` and `method`
/// with its code once the reply's last frame went out.
pub fn observe(service: String, method: String, started: Instant, reply: Response<Body>) -> Response<Body> {
    on_end(reply, move |end| count(&service, &method, end.code, started))
}

/// Counts one call of `method` at `service` that ended with `code`.
pub fn count(service: &str, method: &str, code: Code, started: Instant) {
    // A path nobody serves, or an unauthenticated caller's, is the caller's
    // free choice: one series for all of them keeps the label set bounded.
    let method = match code {
        Code::Unimplemented | Code::Unauthenticated => "other",
        _ => method,
    };
    super::rpc_finished(service, method, code, started.elapsed());
}

/// A reply body that reports how its call ended, once, when it ends or is
/// dropped.
struct Observed {
    inner: Body,
    code: Option<Code>,
    end: Option<Box<dyn FnOnce(End) + Send>>,
}

impl Observed {
    fn finish(&mut self, cancelled: bool) {
        if let Some(end) = self.end.take() {
            let code = match self.code {
                _ if cancelled => Code::Cancelled,
                Some(code) => code,
                // A gRPC body that ended without a status is broken.
                None => Code::Unknown,
            };
            end(End { code, cancelled });
        }
    }
}

impl http_body::Body for Observed {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                // Trailers are the last frame: the call is over.
                if let Some(trailers) = frame.trailers_ref() {
                    self.code = grpc_status(trailers).or(self.code);
                    self.finish(false);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                self.code = Some(status.code());
                self.finish(false);
            }
            Poll::Ready(None) => self.finish(false),
            Poll::Pending => {}
        }
        if self.inner.is_end_stream() {
            self.finish(false);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // A body dropped before its end: the caller went away (or, for an
        // empty trailers-only reply, the server never had to poll it).
        let cancelled = !self.inner.is_end_stream();
        self.finish(cancelled);
    }
}

/// The `grpc-status` in `headers`, if any.
pub fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(Code::from(code))
}

/// Whether `headers` are a gRPC reply's (by content type).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The code an HTTP (Connect JSON) status stands for; the inverse of the
/// usual mapping where it is one-to-one, its nearest code where not.
fn from_http(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=299 => Code::Ok,
        400 | 415 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailers_only(code: Code) -> Response<Body> {
        let mut reply = Response::new(Body::empty());
        reply
            .headers_mut()
            .insert("content-type", http::HeaderValue::from_static("application/grpc"));
        reply
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from(code as i32));
        reply
    }

    #[test]
    fn a_trailers_only_reply_counts_with_the_code_of_its_headers() {
        drop(observe(
            "unit-rpc".into(),
            "/x.Y/Get".into(),
            Instant::now(),
            trailers_only(Code::NotFound),
        ));
        let text = super::super::render();
        let line = r#"crm_rpc_requests_total{service="unit-rpc",method="/x.Y/Get",code="NOT_FOUND"} 1"#;
        assert!(text.contains(line), "{text}");
    }

    #[test]
    fn paths_nobody_serves_share_one_series() {
        for path in ["/x.Y/Nope", "/x.Y/Neither"] {
            let reply = trailers_only(Code::Unimplemented);
            drop(observe("unit-rpc-other".into(), path.into(), Instant::now(), reply));
        }
        let text = super::super::render();
        let line = r#"crm_rpc_requests_total{service="unit-rpc-other",method="other",code="UNIMPLEMENTED"} 2"#;
        assert!(text.contains(line), "{text}");
    }
}
