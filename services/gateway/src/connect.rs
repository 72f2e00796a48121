//! Unary RPCs as JSON, in the Connect protocol's unary form: the request
//! body (proto3 JSON mapping) becomes the protobuf message the contracts'
//! descriptor set names for the method, goes to the backend as an ordinary
//! gRPC call, and the reply comes back as JSON; a failed call is a Connect
//! error (`{"code": "invalid_argument", "message": ..., "details": [...]}`)
//! with the HTTP status the Connect protocol gives its code.

use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};
use tonic::{Code, Status, body::Body, transport::Channel};
use tower::ServiceExt;

/// Headers of a JSON call passed on to the backend.
const PASSED_ON: [&str; 3] = ["authorization", "traceparent", "tracestate"];

/// Turns JSON calls into gRPC calls and back, by the descriptor set.
#[derive(Clone, Debug)]
pub struct Transcoder {
    pool: DescriptorPool,
}

impl Transcoder {
    /// A transcoder over the suite's contracts (and the google.rpc error
    /// details, so errors' details print as JSON too).
    pub fn new() -> anyhow::Result<Self> {
        let mut pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET)?;
        pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
        Ok(Self { pool })
    }

    /// The unary method `service`/`method`, if the contracts have it.
    fn method(&self, service: &str, method: &str) -> Result<MethodDescriptor, Status> {
        let m = self
            .pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .ok_or_else(|| Status::unimplemented(format!("no method {service}/{method}")))?;
        if m.is_client_streaming() || m.is_server_streaming() {
            return Err(Status::unimplemented(format!(
                "{service}/{method} streams: call it over gRPC"
            )));
        }
        Ok(m)
    }

    /// Calls `service`/`method` on `backend` with the JSON request `req`;
    /// a failure is the status to answer with (see [`Transcoder::error`]).
    pub async fn call(
        &self,
        backend: Channel,
        service: &str,
        method: &str,
        req: Request<Incoming>,
        max_body_bytes: usize,
    ) -> Result<Response<Body>, Status> {
        if req.method() != http::Method::POST {
            return Err(Status::invalid_argument("a JSON call is a POST"));
        }
        let m = self.method(service, method)?;
        let (parts, body) = req.into_parts();
        let body = crm_kit::server::stall::StalledBody::new(body, crm_kit::server::stall::BODY_IDLE_TIMEOUT);
        let body = Limited::new(body, max_body_bytes)
            .collect()
            .await
            .map_err(|e| match e.downcast::<Status>() {
                // The body stalled: DEADLINE_EXCEEDED, as it says.
                Ok(stalled) => *stalled,
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    Status::resource_exhausted(format!("the request body is larger than {max_body_bytes} bytes"))
                }
                Err(_) => Status::invalid_argument("the request body could not be read"),
            })?
            .to_bytes();
        let input = if body.iter().all(u8::is_ascii_whitespace) {
            DynamicMessage::new(m.input())
        } else {
            let mut de = serde_json::Deserializer::from_slice(&body);
            DynamicMessage::deserialize(m.input(), &mut de)
                .and_then(|msg| de.end().map(|()| msg))
                .map_err(|e| Status::invalid_argument(format!("the request body is not a {}: {e}", m.input().name())))?
        };
        let payload = input.encode_to_vec();
        let mut framed = BytesMut::with_capacity(5 + payload.len());
        framed.put_u8(0);
        framed.put_u32(u32::try_from(payload.len()).map_err(|_| Status::resource_exhausted("request too large"))?);
        framed.put_slice(&payload);

        let mut call = Request::builder()
            .method(http::Method::POST)
            .uri(format!("/{service}/{method}"))
            .version(http::Version::HTTP_2)
            .header(header::CONTENT_TYPE, "application/grpc")
            .header("te", "trailers");
        for name in PASSED_ON {
            if let Some(v) = parts.headers.get(name) {
                call = call.header(name, v);
            }
        }
        // Connect's deadline header, as gRPC's.
        if let Some(ms) = parts
            .headers
            .get("connect-timeout-ms")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            call = call.header("grpc-timeout", format!("{}m", ms.min(99_999_999)));
        }
        let call = call
            .body(Body::new(Full::new(framed.freeze())))
            .map_err(|_| Status::internal("building the call"))?;
        let reply = backend.oneshot(call).await.map_err(|e| {
            tracing::warn!(error = %e, "backend unreachable");
            Status::unavailable("the service behind the gateway is unavailable; retry later")
        })?;
        let (head, body) = reply.into_parts();
        // A trailers-only reply has its status in the headers.
        if let Some(status) = Status::from_header_map(&head.headers)
            && status.code() != Code::Ok
        {
            return Err(status);
        }
        let collected = body
            .collect()
            .await
            .map_err(|_| Status::unavailable("the service's reply broke off; retry later"))?;
        if let Some(status) = collected.trailers().and_then(Status::from_header_map)
            && status.code() != Code::Ok
        {
            return Err(status);
        }
        let mut bytes = collected.to_bytes();
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(Status::internal("the service's reply could not be read"));
        }
        bytes.advance(1);
        let len = bytes.get_u32() as usize;
        let message = bytes
            .get(..len)
            .ok_or_else(|| Status::internal("the service's reply was cut short"))?;
        let output = DynamicMessage::decode(m.output(), message)
            .map_err(|_| Status::internal("the service's reply could not be read"))?;
        Ok(json_response(StatusCode::OK, &self.to_json(&output)))
    }

    fn to_json(&self, msg: &DynamicMessage) -> serde_json::Value {
        // Fields at their defaults are written too: a JSON client reads
        // `"count": 0` rather than guessing from a missing key.
        let options = SerializeOptions::new().skip_default_fields(false);
        msg.serialize_with_options(serde_json::value::Serializer, &options)
            .unwrap_or(serde_json::Value::Null)
    }

    /// The Connect error of `status`, with its details in JSON where the
    /// descriptor set knows their type.
    pub fn error(&self, status: &Status) -> Response<Body> {
        let mut body = error_json(status);
        let details: Vec<serde_json::Value> = tonic_types::pb::Status::decode(status.details())
            .map(|s| s.details)
            .unwrap_or_default()
            .into_iter()
            .map(|any| {
                let type_name = any.type_url.rsplit('/').next().unwrap_or("").to_owned();
                let mut detail = serde_json::json!({
                    "type": type_name,
                    "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value),
                });
                if let Some(desc) = self.pool.get_message_by_name(&type_name)
                    && let Ok(msg) = DynamicMessage::decode(desc, any.value.as_slice())
                {
                    detail["debug"] = self.to_json(&msg);
                }
                detail
            })
            .collect();
        if !details.is_empty() {
            body["details"] = serde_json::Value::Array(details);
        }
        json_response(http_status(status.code()), &body)
    }
}

/// The Connect error JSON of `status`, without details.
fn error_json(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "code": code_name(status.code()),
        "message": status.message(),
    })
}

/// A Connect error reply with `http` as its status (for errors the gateway
/// finds itself, before any transcoding).
pub fn error_response(status: &Status, http: StatusCode) -> Response<Body> {
    json_response(http, &error_json(status))
}

fn json_response(http: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let mut reply = Response::new(Body::new(Full::new(bytes)));
    *reply.status_mut() = http;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

/// The Connect name of a gRPC code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status the Connect protocol gives a code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_connect_name_and_http_status() {
        let table = [
            (Code::Cancelled, "canceled", 499),
            (Code::Unknown, "unknown", 500),
            (Code::InvalidArgument, "invalid_argument", 400),
            (Code::DeadlineExceeded, "deadline_exceeded", 504),
            (Code::NotFound, "not_found", 404),
            (Code::AlreadyExists, "already_exists", 409),
            (Code::PermissionDenied, "permission_denied", 403),
            (Code::ResourceExhausted, "resource_exhausted", 429),
            (Code::FailedPrecondition, "failed_precondition", 400),
            (Code::Aborted, "aborted", 409),
            (Code::OutOfRange, "out_of_range", 400),
            (Code::Unimplemented, "unimplemented", 501),
            (Code::Internal, "internal", 500),
            (Code::Unavailable, "unavailable", 503),
            (Code::DataLoss, "data_loss", 500),
            (Code::Unauthenticated, "unauthenticated", 401),
        ];
        for (code, name, http) in table {
            assert_eq!((code_name(code), http_status(code).as_u16()), (name, http), "{code:?}");
        }
    }

    #[test]
    fn every_unary_method_of_every_service_is_found_and_streams_are_refused() {
        let t = Transcoder::new().unwrap();
        let mut unary = 0;
        for name in crate::SERVICES {
            let service = t.pool.get_service_by_name(name).unwrap();
            for m in service.methods() {
                let found = t.method(name, m.name());
                if m.is_client_streaming() || m.is_server_streaming() {
                    assert_eq!(found.unwrap_err().code(), Code::Unimplemented, "{}", m.name());
                } else {
                    assert_eq!(found.unwrap().full_name(), m.full_name());
                    unary += 1;
                }
            }
        }
        assert!(unary > 30, "{unary} unary methods");
        assert_eq!(
            t.method("crm.pipeline.v1.PipelineService", "Nope").unwrap_err().code(),
            Code::Unimplemented
        );
    }
}
