//! Malformed gRPC frames and messages, on every unary RPC: the caller's
//! mistake (INVALID_ARGUMENT; UNIMPLEMENTED for an unsupported compression;
//! RESOURCE_EXHAUSTED past the size limit), never INTERNAL.

use bytes::Bytes;
use crm_kit::testing::{Backend, token};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use tonic::Code;

use super::{frame, framed, raw};
use crate::harness::up;

/// The malformed messages of one request type, each with what it breaks.
fn malformed_messages(m: &MessageDescriptor) -> Vec<(&'static str, Vec<u8>)> {
    let mut cases = Vec::new();
    if let Some(f) = m.fields().next() {
        let n = f.number();
        let varint_kind = matches!(
            f.kind(),
            Kind::Int32
                | Kind::Int64
                | Kind::Uint32
                | Kind::Uint64
                | Kind::Bool
                | Kind::Enum(_)
                | Kind::Sint32
                | Kind::Sint64
        ) && !f.is_list();
        // The field with the wire type it does not have.
        let wrong = if varint_kind {
            vec![(n << 3 | 2) as u8, 1, 1]
        } else {
            vec![(n << 3) as u8, 1]
        };
        cases.push(("a wrong wire type", wrong));
    }
    if let Some(f) = m.fields().find(|f| f.kind() == Kind::String && !f.is_list()) {
        cases.push((
            "invalid UTF-8 in a string",
            vec![(f.number() << 3 | 2) as u8, 2, 0xff, 0xfe],
        ));
    }
    // Field 1, length-delimited, says 5 bytes and has 1.
    cases.push(("a truncated field", vec![0x0a, 5, b'a']));
    // Wire type 7 does not exist.
    cases.push(("an invalid wire type", vec![0x0f, 0]));
    // Unknown groups nested past the recursion limit.
    let mut deep = Vec::new();
    for _ in 0..120 {
        deep.extend([0xc3, 0x3e]); // field 1000, start group
    }
    cases.push(("the recursion limit", deep));
    cases
}

/// A malformed request of any RPC, and the code it must get.
struct FrameCase {
    what: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    want: Code,
}

/// The malformed frames of any request (`want` OK: a well-formed one,
/// which may be valid or not, but is never INTERNAL).
fn malformed_frames() -> Vec<FrameCase> {
    let case = |what, body, want| FrameCase {
        what,
        headers: Vec::new(),
        body,
        want,
    };
    vec![
        case(
            "compressed without grpc-encoding",
            frame(1, 0, &[]),
            Code::InvalidArgument,
        ),
        case("compression flag 2", frame(2, 0, &[]), Code::InvalidArgument),
        case(
            "a length prefix longer than the body",
            frame(0, 10, &[0x0a, 0]),
            Code::InvalidArgument,
        ),
        case(
            "a length prefix shorter than the body",
            frame(0, 1, &[0x0a, 0, 0x0a]),
            Code::InvalidArgument,
        ),
        case("no body", Bytes::new(), Code::InvalidArgument),
        case("a half header", Bytes::from_static(&[0, 0, 0]), Code::InvalidArgument),
        FrameCase {
            what: "an unsupported compression",
            headers: vec![("grpc-encoding", "snappy".to_owned())],
            body: frame(1, 0, &[]),
            want: Code::Unimplemented,
        },
        case(
            "a 5 MB message",
            framed(&vec![0x0a; 5 * 1024 * 1024]),
            Code::ResourceExhausted,
        ),
        case("a well-formed empty message", framed(&[]), Code::Ok),
    ]
}

/// Every unary RPC of the suite's four services, with its request type.
fn unary_rpcs() -> Vec<(String, MessageDescriptor)> {
    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = Vec::new();
    for service in pool.services() {
        if !crm_gateway::SERVICES.contains(&service.full_name()) {
            continue;
        }
        for m in service.methods() {
            if !m.is_client_streaming() && !m.is_server_streaming() {
                rpcs.push((format!("/{}/{}", service.full_name(), m.name()), m.input()));
            }
        }
    }
    rpcs
}

async fn malformed_grpc_input_is_the_callers_mistake_on_every_unary_rpc(backend: Backend) {
    let Some(suite) = up(backend, "hostile-frames").await else {
        return;
    };
    let auth = vec![("authorization", format!("Bearer {}", token("acme", "ann", &["admin"])))];
    let rpcs = unary_rpcs();
    assert!(rpcs.len() >= 40, "every unary RPC: {}", rpcs.len());
    // The metrics count the caller's mistakes as such (the registry is the
    // process's: other tests add to it, never to INTERNAL). On the topology
    // the services count in their containers, so only the answers are checked.
    const GET_DEAL: &str = "/crm.pipeline.v1.PipelineService/GetDeal";
    let counted = |code: &str| {
        let labels = [("service", "pipeline"), ("method", GET_DEAL), ("code", code)];
        crm_kit::testing::sample(&crm_kit::metrics::render(), "crm_rpc_requests_total", &labels)
    };
    let (invalid_before, internal_before) = (counted("INVALID_ARGUMENT"), counted("INTERNAL"));
    let mut wrong = Vec::new();
    for (path, input) in &rpcs {
        for (what, message) in malformed_messages(input) {
            let a = raw(&suite.channel, path, &auth, framed(&message)).await;
            if a.code != Code::InvalidArgument {
                wrong.push(format!("{path} with {what}: {:?} {}", a.code, a.message));
            }
        }
        for case in malformed_frames() {
            let headers: Vec<_> = auth.iter().cloned().chain(case.headers).collect();
            let a = raw(&suite.channel, path, &headers, case.body).await;
            let fine = if case.want == Code::Ok {
                a.code != Code::Internal && a.code != Code::Unknown
            } else {
                a.code == case.want
            };
            if !fine {
                wrong.push(format!("{path} with {}: {:?} {}", case.what, a.code, a.message));
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    if !suite.in_process() {
        return;
    }
    let get_deal = rpcs.iter().find(|(p, _)| p == GET_DEAL).map(|(_, m)| m).unwrap();
    let sent = malformed_messages(get_deal).len() + 6;
    assert!(
        counted("INVALID_ARGUMENT") - invalid_before >= sent as f64,
        "GetDeal's malformed calls are counted as INVALID_ARGUMENT"
    );
    assert_eq!(counted("INTERNAL"), internal_before, "and none as INTERNAL");
}

crm_kit::backend_tests!(malformed_grpc_input_is_the_callers_mistake_on_every_unary_rpc);
