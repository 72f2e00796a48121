//! The gateway: the suite's one public port.
//!
//! - gRPC calls (HTTP/2, `application/grpc`) are routed by their service
//!   path to the backend configured for that service, unary and streaming
//!   alike; the request and reply stream through untouched, so deadlines
//!   (`grpc-timeout`), the caller's token and the trace context pass on.
//! - Every unary RPC is also callable as JSON in the Connect protocol's
//!   unary form (`POST /crm.pipeline.v1.PipelineService/MoveDeal`,
//!   `Content-Type: application/json`, bodies in the proto3 JSON mapping),
//!   over HTTP/1.1 or HTTP/2. The transcoding is driven by the contracts'
//!   descriptor set, so a new RPC needs no gateway code ([`connect`]).
//! - The caller's token is checked before anything is forwarded; the
//!   services check it again themselves.
//! - Health (one entry per backend, from the backend's own health service)
//!   and server reflection over the whole contract set are served here.

pub mod connect;
pub mod limits;
mod serve;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use crm_kit::auth::{Caller, TokenVerifier};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
pub use serve::serve;
use tonic::{Status, body::Body, service::Routes, transport::Channel};
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::ServiceExt;

/// The services behind the gateway, by fully-qualified name.
pub const SERVICES: [&str; 4] = [
    "crm.contacts.v1.ContactsService",
    "crm.pipeline.v1.PipelineService",
    "crm.tasks.v1.TasksService",
    "crm.analytics.v1.AnalyticsService",
];

/// The health entry of the gateway itself: SERVING while it runs, whatever
/// its backends say (for a readiness probe that should not take the whole
/// gateway out when one backend is down).
pub const HEALTH_NAME: &str = "crm.gateway";

/// How the gateway is set up.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Where each service answers: (fully-qualified service name, URL).
    pub backends: Vec<(String, String)>,
    /// The largest JSON request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Every tenant's rate and in-flight limits.
    pub limits: limits::LimitConfig,
}

impl GatewayConfig {
    /// All four services at `url` (one process serving every service).
    pub fn all_at(url: &str) -> Self {
        Self {
            backends: SERVICES.iter().map(|s| ((*s).to_owned(), url.to_owned())).collect(),
            max_body_bytes: 4 * 1024 * 1024,
            limits: limits::LimitConfig::default(),
        }
    }
}

/// The gateway's state, shared by every connection.
#[derive(Clone)]
pub struct Gateway(Arc<Inner>);

struct Inner {
    backends: HashMap<String, Channel>,
    verifier: TokenVerifier,
    json: connect::Transcoder,
    local: Routes,
    max_body_bytes: usize,
    limits: limits::Limits,
}

impl Gateway {
    /// A gateway to `config.backends`, checking tokens with `verifier`;
    /// returns it with the health reporter its health service answers from.
    pub fn new(config: &GatewayConfig, verifier: TokenVerifier) -> anyhow::Result<(Self, HealthReporter)> {
        let mut backends = HashMap::new();
        for (service, url) in &config.backends {
            // A backend that is down is UNAVAILABLE at once, not a hang;
            // several comma-separated URLs are replicas to spread calls over.
            let channel = crm_kit::peer::channel(url, Duration::from_secs(1), None)
                .with_context(|| format!("backend URL of {service}: {url}"))?;
            backends.insert(service.clone(), channel);
        }
        let (reporter, health) = tonic_health::server::health_reporter();
        let local = Routes::new(health)
            .add_service(crm_kit::server::reflection_v1()?)
            .add_service(crm_kit::server::reflection_v1alpha()?);
        let inner = Inner {
            backends,
            verifier,
            json: connect::Transcoder::new()?,
            local,
            max_body_bytes: config.max_body_bytes,
            limits: limits::Limits::new(config.limits),
        };
        Ok((Self(Arc::new(inner)), reporter))
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if is_local(split_path(req.uri().path()).0) {
            let (started, method) = (Instant::now(), req.uri().path().to_owned());
            let reply = match self.0.local.clone().oneshot(req.map(Body::new)).await {
                Ok(r) => r,
                Err(e) => match e {},
            };
            // Counted too (crm_rpc_*{service="gateway"}), but not access-logged.
            return crm_kit::metrics::rpc::observe("gateway".into(), method, started, reply);
        }
        // A span per forwarded call, a child of the caller's traceparent;
        // the call goes on with the gateway's own context, so the service's
        // span is the gateway's child.
        let parent = crm_kit::trace::TraceContext::from_headers(req.headers());
        let span = gateway_span(req.uri().path(), Kind::of(req.headers()));
        crm_kit::trace::run(parent, span, async move {
            let mut req = req;
            if let Some(context) = crm_kit::trace::TraceContext::current() {
                context.inject(req.headers_mut());
            }
            self.route(req).await
        })
        .await
    }

    /// Checks, limits and forwards one call to its backend.
    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        let path = req.uri().path().to_owned();
        let kind = Kind::of(req.headers());
        let (service, method) = split_path(&path);
        let mut line = AccessLine {
            method: path.clone(),
            tenant: String::new(),
            user: String::new(),
            started,
        };
        let caller = match self.authenticate(req.headers()) {
            Ok(c) => c,
            Err(status) => return self.refuse(kind, line, &status),
        };
        line.tenant.clone_from(&caller.tenant_id);
        line.user.clone_from(&caller.user_id);
        let size = header_bytes(req.headers());
        if size > crm_kit::server::MAX_FORWARDED_HEADERS {
            let status = Status::resource_exhausted(format!(
                "the call's headers are {size} bytes; at most {} are forwarded",
                crm_kit::server::MAX_FORWARDED_HEADERS
            ));
            return self.refuse(kind, line, &status);
        }
        let permit = match self.0.limits.admit_within(&caller.tenant_id, limits::SHARE_WAIT).await {
            Ok(p) => p,
            Err(status) => return self.refuse(kind, line, &status),
        };
        let Some(backend) = self.0.backends.get(service).cloned() else {
            let status = Status::unimplemented(format!("no service {service} behind this gateway"));
            return self.refuse(kind, line, &status);
        };
        let reply = match kind {
            Kind::Grpc => forward(backend, req).await,
            Kind::Json => {
                let json = &self.0.json;
                json.call(backend, service, method, req, self.0.max_body_bytes)
                    .await
                    .unwrap_or_else(|status| json.error(&status))
            }
            Kind::Other => {
                let status = Status::invalid_argument(
                    "content-type must be application/grpc (gRPC) or application/json (Connect unary JSON)",
                );
                connect::error_response(&status, StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
        };
        track(reply, line, Some(permit))
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Status> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crm_kit::auth::bearer)
            .ok_or_else(|| Status::unauthenticated("missing bearer token in the authorization header"))?;
        self.0.verifier.verify(token).map_err(Status::from)
    }

    fn refuse(&self, kind: Kind, line: AccessLine, status: &Status) -> Response<Body> {
        let reply = match kind {
            Kind::Grpc => grpc_error(status),
            Kind::Json | Kind::Other => self.0.json.error(status),
        };
        track(reply, line, None)
    }
}

/// What a request speaks, by its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Grpc,
    Json,
    Other,
}

impl Kind {
    fn of(headers: &HeaderMap) -> Self {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ct.starts_with("application/grpc") {
            Kind::Grpc
        } else if ct == "application/json" || ct.starts_with("application/json;") {
            Kind::Json
        } else {
            Kind::Other
        }
    }
}

/// The span of one call the gateway forwards, with the OpenTelemetry RPC
/// attributes and how it came (`grpc` or `json`).
fn gateway_span(path: &str, kind: Kind) -> tracing::Span {
    let (service, method) = split_path(path);
    let protocol = match kind {
        Kind::Grpc => "grpc",
        Kind::Json => "json",
        Kind::Other => "other",
    };
    let span = tracing::info_span!(
        "gateway",
        otel.name = %format!("gateway {service}/{method}"),
        otel.kind = "server",
        method = path,
        trace_id = tracing::field::Empty,
    );
    crm_kit::trace::annotate(
        &span,
        [
            ("rpc.system", "grpc"),
            ("rpc.service", service),
            ("rpc.method", method),
            ("crm.gateway.protocol", protocol),
        ],
    );
    span
}

/// The size of `headers` as HTTP/2 counts it: names, values, 32 bytes each.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 32).sum()
}

/// `/pkg.Service/Method` as (service, method); empty parts when the path is not of that shape.
fn split_path(path: &str) -> (&str, &str) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
}

/// Health and reflection, answered by the gateway itself without a token.
fn is_local(service: &str) -> bool {
    service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection.")
}

/// Passes a gRPC call to `backend` as it is, ending it when its body
/// stalls (DEADLINE_EXCEEDED); a backend that cannot be reached is
/// UNAVAILABLE.
async fn forward(backend: Channel, req: Request<Incoming>) -> Response<Body> {
    use crm_kit::server::stall::{BODY_IDLE_TIMEOUT, StalledBody};
    let (parts, body) = req.into_parts();
    let body = StalledBody::new(body, BODY_IDLE_TIMEOUT);
    let stalled = body.stalled();
    match backend.oneshot(Request::from_parts(parts, Body::new(body))).await {
        Ok(reply) => reply,
        Err(_) if stalled.load(std::sync::atomic::Ordering::Relaxed) => {
            grpc_error(&Status::deadline_exceeded(format!(
                "the request body sent nothing for {} s; the call is ended",
                BODY_IDLE_TIMEOUT.as_secs()
            )))
        }
        Err(e) => {
            tracing::warn!(error = %e, "backend unreachable");
            grpc_error(&Status::unavailable(
                "the service behind the gateway is unavailable; retry later",
            ))
        }
    }
}

/// A trailers-only gRPC reply carrying `status`.
pub fn grpc_error(status: &Status) -> Response<Body> {
    let mut reply = Response::new(Body::empty());
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    if let Err(e) = status.add_header(reply.headers_mut()) {
        tracing::warn!(error = %e, "status headers");
    }
    reply
}

/// What the access log says of a call: tenant, user, method, and (at
/// its end) code and latency; never the token.
#[derive(Debug)]
struct AccessLine {
    method: String,
    tenant: String,
    user: String,
    started: Instant,
}

/// A reply on its way out: it holds the call's permit until the last
/// frame is sent, and then writes the access-log line (with the gRPC code,
/// from the trailers of a reply that streamed, or a JSON reply's HTTP
/// status) and counts the call (`crm_rpc_*{service="gateway"}`).
fn track(reply: Response<Body>, line: AccessLine, permit: Option<limits::Permit>) -> Response<Body> {
    let json_status = (!crm_kit::metrics::rpc::is_grpc(reply.headers())).then(|| reply.status().as_u16().to_string());
    crm_kit::metrics::rpc::on_end(reply, move |end| {
        drop(permit);
        let code = match (end.cancelled, json_status) {
            (true, _) => "Cancelled (the caller went away)".to_owned(),
            (false, Some(status)) => status,
            (false, None) => format!("{:?}", end.code),
        };
        tracing::info!(
            tenant = line.tenant,
            user = line.user,
            method = line.method,
            code,
            ms = line.started.elapsed().as_secs_f64() * 1e3,
            "gateway call"
        );
        crm_kit::metrics::rpc::count("gateway", &line.method, end.code, line.started);
    })
}

impl Gateway {
    /// Keeps the health service's entry of each backend current, from the
    /// backend's own health service, every few seconds.
    pub async fn watch_backends(self, reporter: HealthReporter) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            self.check_backends(&reporter).await;
        }
    }

    /// Asks every backend's health service once, at the same time, over the
    /// channel calls go through, and sets each backend's entry (and the
    /// overall one: SERVING when all are).
    pub async fn check_backends(&self, reporter: &HealthReporter) {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let checks = self.0.backends.iter().map(|(service, channel)| async move {
            let req = HealthCheckRequest {
                service: service.clone(),
            };
            let mut client = HealthClient::new(channel.clone());
            let check = client.check(req);
            let up = tokio::time::timeout(Duration::from_secs(2), check)
                .await
                .is_ok_and(|r| r.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32));
            let status = if up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status(service, status).await;
            up
        });
        let all = futures_util::future::join_all(checks).await.into_iter().all(|up| up);
        reporter.set_service_status(HEALTH_NAME, ServingStatus::Serving).await;
        let status = if all {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
    }
}
