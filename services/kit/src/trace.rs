//! W3C trace context (`traceparent`) carried through the whole flow: taken
//! from the RPC's metadata (or started there), written into every event the
//! call produces, sent as an AMQP header, and restored by the consumer, so
//! one trace id runs from the RPC through the event to the consumer's work
//! and the events *it* writes.
//!
//! The context lives in a task-local for the duration of the call or of the
//! event's handling; [`crate::outbox::append`] reads it. When spans are
//! exported ([`crate::telemetry`] installed the OpenTelemetry layer), the
//! context is the current span's own: every span is a child of the remote
//! context it came from, and what travels on names the span that sent it.
//! Without that layer the remote context travels on as it came.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::codegen::http;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

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

    /// A remote context, if `traceparent` is well-formed.
    pub fn remote(traceparent: &str, tracestate: &str) -> Option<Self> {
        valid(traceparent).then(|| Self::from_parts(Some(traceparent), Some(tracestate)))
    }

    /// The remote context in `headers` (`traceparent`, `tracestate`), if well-formed.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self::remote(header("traceparent")?, header("tracestate").unwrap_or_default())
    }

    /// Writes this context into `headers`, replacing what was there.
    pub fn inject(&self, headers: &mut http::HeaderMap) {
        if let Ok(v) = http::HeaderValue::from_str(&self.traceparent) {
            headers.insert("traceparent", v);
        }
        headers.remove("tracestate");
        if !self.tracestate.is_empty()
            && let Ok(v) = http::HeaderValue::from_str(&self.tracestate)
        {
            headers.insert("tracestate", v);
        }
    }

    /// The 32-hex-digit trace id.
    pub fn trace_id(&self) -> &str {
        self.traceparent.get(3..35).unwrap_or_default()
    }

    /// The context to pass on from here: the current span's when spans are
    /// exported, else that of the call or event being handled, if any.
    pub fn current() -> Option<Self> {
        Self::of_span(&tracing::Span::current()).or_else(|| CURRENT.try_with(Clone::clone).ok())
    }

    /// The OpenTelemetry context of `span`; `None` without the
    /// OpenTelemetry layer (or for a disabled span).
    pub fn of_span(span: &tracing::Span) -> Option<Self> {
        let cx = span.context();
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = Self {
            traceparent: String::new(),
            tracestate: String::new(),
        };
        TraceContextPropagator::new().inject_context(&cx, &mut carrier);
        Some(carrier)
    }

    /// Makes this (remote) context the OpenTelemetry parent of `span`; a
    /// no-op without the OpenTelemetry layer.
    pub fn adopt(&self, span: &tracing::Span) {
        let _ = span.set_parent(TraceContextPropagator::new().extract(self));
    }

    /// Links `span` to this (remote) context: for work done for several
    /// traces at once. A no-op without the OpenTelemetry layer.
    pub fn link(&self, span: &tracing::Span) {
        let cx = TraceContextPropagator::new().extract(self);
        span.add_link(cx.span().span_context().clone());
    }

    /// Runs `fut` with this context as the current one, inside a span that
    /// records the trace id (the span is this remote context's child).
    pub async fn scope<F: Future>(self, span: tracing::Span, fut: F) -> F::Output {
        run(Some(self), span, fut).await
    }
}

/// Runs `fut` inside `span`, a child of the remote context `parent` (a new
/// trace without one), with the span's context as the current one.
pub async fn run<F: Future>(parent: Option<TraceContext>, span: tracing::Span, fut: F) -> F::Output {
    if let Some(p) = &parent {
        p.adopt(&span);
    }
    let context = TraceContext::of_span(&span)
        .or(parent)
        .unwrap_or_else(TraceContext::start);
    span.record("trace_id", context.trace_id());
    CURRENT.scope(context, fut.instrument(span)).await
}

/// The span of one incoming gRPC call at `path` (`/pkg.Service/Method`),
/// named `pkg.Service/Method` with the OpenTelemetry RPC attributes.
pub fn rpc_span(path: &str) -> tracing::Span {
    let name = path.trim_start_matches('/');
    let (service, method) = name.split_once('/').unwrap_or((name, ""));
    let span = tracing::info_span!(
        "rpc",
        otel.name = name,
        otel.kind = "server",
        method = path,
        trace_id = tracing::field::Empty,
    );
    annotate(
        &span,
        [("rpc.system", "grpc"), ("rpc.service", service), ("rpc.method", method)],
    );
    span
}

/// Gives `span` OpenTelemetry attributes that the log lines need not
/// repeat; a no-op without the OpenTelemetry layer.
pub fn annotate<'a>(span: &tracing::Span, attributes: impl IntoIterator<Item = (&'static str, &'a str)>) {
    for (key, value) in attributes {
        span.set_attribute(key, value.to_owned());
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(&self.traceparent),
            "tracestate" if !self.tracestate.is_empty() => Some(&self.tracestate),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = value,
            "tracestate" => self.tracestate = value,
            _ => {}
        }
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

/// A tower layer that gives every RPC a span ([`rpc_span`], a child of the
/// caller's `traceparent`) and makes its trace context current.
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
        let parent = TraceContext::from_headers(req.headers());
        let span = rpc_span(req.uri().path());
        let fut = self.0.call(req);
        Box::pin(run(parent, span, fut))
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

    #[test]
    fn a_remote_context_needs_a_well_formed_traceparent_and_travels_in_headers() {
        assert_eq!(TraceContext::remote("garbage", ""), None);
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let remote = TraceContext::remote(t, "vendor=1").unwrap();
        let mut headers = http::HeaderMap::new();
        remote.inject(&mut headers);
        assert_eq!(TraceContext::from_headers(&headers), Some(remote));
    }

    #[tokio::test]
    async fn with_spans_exported_a_span_continues_its_parents_trace_under_its_own_id() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        let parent = TraceContext::remote("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "").unwrap();
        let inside = run(Some(parent.clone()), rpc_span("/a.B/C"), async {
            TraceContext::current()
        })
        .await
        .unwrap();
        assert_eq!(inside.trace_id(), parent.trace_id(), "the same trace");
        assert_ne!(
            inside.traceparent, parent.traceparent,
            "but the span's own id is passed on"
        );
        let fresh = run(None, rpc_span("/a.B/C"), async { TraceContext::current() })
            .await
            .unwrap();
        assert_ne!(fresh.trace_id(), parent.trace_id(), "no parent: a new trace");
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
