//! The caller's framing and decoding mistakes, answered as the caller's.
//!
//! tonic answers a request it cannot decode (a message that is not valid
//! protobuf, a frame with a compression flag it cannot honour, a length
//! prefix that promises more than the body carries, no message at all) with
//! INTERNAL, as gRPC's own status table has it, and a message past the size
//! limit with OUT_OF_RANGE. Here a caller's mistake is never INTERNAL (it
//! would count as a server error and read as our bug): this layer turns
//! those answers into INVALID_ARGUMENT, and the size one into
//! RESOURCE_EXHAUSTED naming the limit, before the metrics count them.
//!
//! tonic gives these answers trailers-only (the status in the response
//! headers), before any handler runs; the layer recognises them by tonic's
//! own messages (pinned with tonic 0.14; the end-to-end test `hostile`
//! sends every one of them to every unary RPC, so a tonic that words them
//! otherwise fails it).

use http::{HeaderMap, Response};
use tonic::{Code, Status, body::Body};
use tower::util::MapResponseLayer;

/// The layer; see the module docs.
pub type CallerMistakesLayer = MapResponseLayer<fn(Response<Body>) -> Response<Body>>;

/// The layer that restates every reply tonic gave a caller's mistake.
pub fn layer() -> CallerMistakesLayer {
    MapResponseLayer::new(answer as fn(Response<Body>) -> Response<Body>)
}

/// The reply, restated if it answered a caller's mistake as tonic does.
fn answer(mut reply: Response<Body>) -> Response<Body> {
    if let Some(status) = Status::from_header_map(reply.headers()).and_then(|s| restate(&s)) {
        rewrite(reply.headers_mut(), &status);
    }
    reply
}

/// What a caller's mistake that tonic answered as `status` is, if it is one.
pub fn restate(status: &Status) -> Option<Status> {
    let message = status.message();
    match status.code() {
        Code::Internal => {
            let why = if let Some(detail) = message.strip_prefix("failed to decode Protobuf message: ") {
                format!("the request message is not valid protobuf: {detail}")
            } else if message.starts_with("protocol error: received message with compressed-flag but no grpc-encoding")
            {
                "a message has the compressed flag set but the call names no grpc-encoding".to_owned()
            } else if message.starts_with("protocol error: received message with invalid compression flag") {
                "a message's compression flag must be 0 or 1".to_owned()
            } else if message.starts_with("Unexpected EOF decoding stream") {
                "the request ends inside a message: a length prefix promises more bytes than follow".to_owned()
            } else if message.starts_with("Missing request message") {
                "the request carries no message".to_owned()
            } else if let Some(detail) = message.strip_prefix("Error decompressing: ") {
                format!("the request message does not decompress: {detail}")
            } else {
                return None;
            };
            Some(Status::invalid_argument(why))
        }
        Code::OutOfRange if message.starts_with("Error, decoded message length too large") => {
            let found = message.split("found ").nth(1).and_then(|s| s.split(' ').next());
            let limit = message.rsplit("is: ").next().and_then(|s| s.split(' ').next());
            Some(Status::resource_exhausted(format!(
                "the request message is {} bytes; the limit is {} bytes",
                found.unwrap_or("too many"),
                limit.unwrap_or("smaller"),
            )))
        }
        _ => None,
    }
}

fn rewrite(headers: &mut HeaderMap, status: &Status) {
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
    }
    if let Err(e) = status.add_header(headers) {
        tracing::warn!(error = %e, "restating a caller's mistake");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_is_not_protobuf_is_invalid_argument() {
        let s = restate(&Status::internal(
            "failed to decode Protobuf message: invalid wire type value: 7",
        ))
        .unwrap();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().ends_with("invalid wire type value: 7"), "{}", s.message());
    }

    #[test]
    fn a_message_over_the_limit_is_resource_exhausted_naming_the_limit() {
        let s = restate(&Status::out_of_range(
            "Error, decoded message length too large: found 5242880 bytes, the limit is: 4194304 bytes",
        ))
        .unwrap();
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.message(),
            "the request message is 5242880 bytes; the limit is 4194304 bytes"
        );
    }

    #[test]
    fn our_own_internal_errors_stay_internal() {
        assert!(restate(&Status::internal("internal error; it has been logged")).is_none());
        assert!(restate(&Status::not_found("deal x not found")).is_none());
    }
}
