//! W3C trace context (`traceparent`) carried through the whole flow: taken
//! from the RPC's metadata (or started there), written into every event the
//! call produces, sent as an AMQP header, and restored by the consumer, so
//! one trace id runs from the RPC through the event to the consumer's work
//! and the events *it* writes.
//!
//! The context lives in a task-local for the duration of the call or of the
//! event's handling; [`crate::outbox::append`] reads it.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::codegen::http;
use tracing::Instrument;

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A W3C trace context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// The `traceparent` value: `00-<trace id>-<parent span id>-<flags>`.
    pub traceparent: String,
    /// The `tracestate` value, often empty.
    pub tracestate: String,
}

impl TraceContext {
    /// A context from a `traceparent` value if it is well-formed, else a new trace.
    pub fn from_parts(traceparent: Option<&str>, tracestate: Option<&str>) -> Self {
        match traceparent.filter(|t| valid(t)) {
            Some(t) => Self {
                traceparent: t.to_owned(),
                tracestate: tracestate.unwrap_or_default().to_owned(),
            },
            None => Self::start(),
        }
    }

    /// A new trace.
    pub fn start() -> Self {
        let trace = uuid::Uuid::new_v4().simple().to_string();
        let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
        Self {
            traceparent: format!("00-{trace}-{span}-01"),
            tracestate: String::new(),
        }
    }

    /// The 32-hex-digit trace id.
    pub fn trace_id(&self) -> &str {
        self.traceparent.get(3..35).unwrap_or_default()
    }

    /// The context of the call or event being handled, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `fut` with this context as the current one, inside a span that
    /// records the trace id.
    pub async fn scope<F: Future>(self, span: tracing::Span, fut: F) -> F::Output {
        span.record("trace_id", self.trace_id());
        CURRENT.scope(self, fut.instrument(span)).await
    }
}

fn valid(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1] != "00000000000000000000000000000000"
}

/// A tower layer that gives every RPC a span (method, trace id) and makes
/// its trace context current.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService(inner)
    }
}

/// The service of [`TraceLayer`].
#[derive(Clone, Debug)]
pub struct TraceService<S>(S);

impl<S, B> tower::Service<http::Request<B>> for TraceService<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let context = TraceContext::from_parts(header("traceparent"), header("tracestate"));
        let span = tracing::info_span!("rpc", method = %req.uri().path(), trace_id = tracing::field::Empty);
        let fut = self.0.call(req);
        Box::pin(context.scope(span, fut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_kept_and_a_bad_one_starts_a_new_trace() {
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(TraceContext::from_parts(Some(t), None).traceparent, t);
        assert_eq!(
            TraceContext::from_parts(Some(t), None).trace_id(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let fresh = TraceContext::from_parts(Some("garbage"), None);
        assert!(valid(&fresh.traceparent));
        assert_ne!(fresh.traceparent, "garbage");
    }

    #[tokio::test]
    async fn the_context_is_current_inside_its_scope_only() {
        let tc = TraceContext::start();
        let inside = tc
            .clone()
            .scope(tracing::Span::none(), async { TraceContext::current() })
            .await;
        assert_eq!(inside, Some(tc));
        assert_eq!(TraceContext::current(), None);
    }
}
