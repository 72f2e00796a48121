//! A hostile caller, through the gateway of `crm up` and straight at the
//! services: malformed gRPC frames and messages on every unary RPC are the
//! caller's mistake (INVALID_ARGUMENT, UNIMPLEMENTED for an unsupported
//! compression, RESOURCE_EXHAUSTED past the size limit), never INTERNAL;
//! and an oversized error or token fails that call alone, never another
//! tenant's calls on the connection they share.

use bytes::{BufMut, Bytes, BytesMut};
use crm_kit::testing::{Backend, token};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use tonic::{Code, body::Body, transport::Channel};
use tower::ServiceExt;

use crate::harness::up;

/// What a raw gRPC call answered: its code and message.
#[derive(Debug)]
struct Answer {
    code: Code,
    message: String,
}

/// Posts `body` (already framed) to `path` on `channel` with `headers`.
async fn raw(channel: &Channel, path: &str, headers: &[(&str, String)], body: Bytes) -> Answer {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("http://crm{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_str(v).unwrap());
    }
    let req = req.body(Body::new(http_body_util::Full::new(body))).unwrap();
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
fn frame(flag: u8, len: u32, message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(flag);
    b.put_u32(len);
    b.put_slice(message);
    b.freeze()
}

/// A well-framed message.
fn framed(message: &[u8]) -> Bytes {
    frame(0, u32::try_from(message.len()).unwrap(), message)
}

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
}

/// A token of `user` in `tenant`, correctly signed, padded to `bytes`.
fn padded_token(tenant: &str, user: &str, bytes: usize) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "sub": user, "tid": tenant, "roles": ["admin"], "exp": now + 600, "iat": now,
        "pad": "x".repeat(bytes),
    });
    let key = jsonwebtoken::EncodingKey::from_secret(crm_kit::testing::TEST_SECRET);
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

async fn an_oversized_error_or_token_fails_its_own_call_and_no_other_tenants(backend: Backend) {
    use crm_proto::contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient};
    let Some(suite) = up(backend, "hostile-sizes").await else {
        return;
    };
    let (a, b) = (token("acme", "ann", &["admin"]), token("globex", "bob", &["admin"]));
    let big = padded_token(&crm_kit::testing::tenant_name("acme"), "ann", 100 * 1024);
    let mut bob = ContactsServiceClient::new(crate::harness::wait_serving(&suite.url).await);
    let mut made = bob.clone();
    let c = cpb::CreateContactRequest {
        contact: Some(cpb::Contact {
            first_name: "Dana".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    made.create_contact(crm_kit::testing::authed(&b, c)).await.unwrap();
    // Tenant A: 200 calls whose answer is an INVALID_ARGUMENT naming 150
    // bad emails, and 50 with a 100 KB token, 10 at a time; half as gRPC,
    // half as JSON over HTTP/1.1 (which takes far bigger headers).
    let attacker = ContactsServiceClient::new(suite.channel.clone());
    let url = suite.url.clone();
    let attack = tokio::spawn(async move {
        let mut codes = std::collections::BTreeMap::<String, usize>::new();
        for round in 0..25 {
            let calls = (0..10).map(|i| {
                let mut client = attacker.clone();
                let t = if (round + i) % 5 == 0 { big.clone() } else { a.clone() };
                let url = url.clone();
                async move {
                    let emails: Vec<String> = (0..150)
                        .map(|n| format!("not-an-email-{n}-{}", "x".repeat(200)))
                        .collect();
                    if i % 2 == 1 {
                        let body = serde_json::json!({"contact": {"firstName": "Mallory", "emails": emails}});
                        let path = "/crm.contacts.v1.ContactsService/CreateContact";
                        let (status, reply) = crate::gateway::http(
                            &url,
                            "POST",
                            path,
                            Some(&t),
                            "application/json",
                            body.to_string().as_bytes(),
                        )
                        .await;
                        if status == 400 {
                            let details = reply["details"].as_array().cloned().unwrap_or_default();
                            let bad = details.iter().find(|d| d["type"] == "google.rpc.BadRequest");
                            let listed = bad.and_then(|b| b["debug"]["fieldViolations"].as_array()).map(Vec::len);
                            assert!(listed.is_some_and(|n| n <= 21), "a bounded BadRequest: {reply}");
                        }
                        return format!("json {status}");
                    }
                    let req = cpb::CreateContactRequest {
                        contact: Some(cpb::Contact {
                            first_name: "Mallory".into(),
                            emails,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    };
                    match client.create_contact(crm_kit::testing::authed(&t, req)).await {
                        Ok(_) => "grpc Ok".into(),
                        Err(s) => {
                            if s.code() == Code::InvalidArgument {
                                let listed = tonic_types::StatusExt::get_details_bad_request(&s)
                                    .map(|b| b.field_violations.len());
                                assert!(listed.is_some_and(|n| n <= 21), "a bounded BadRequest: {listed:?}");
                            }
                            format!("grpc {:?}", s.code())
                        }
                    }
                }
            });
            for code in futures_util::future::join_all(calls).await {
                *codes.entry(code).or_default() += 1;
            }
        }
        codes
    });
    // Tenant B meanwhile: 2,000 ListContacts, 20 at a time, through the same gateway.
    let mut failed = Vec::new();
    for _ in 0..100 {
        let calls = (0..20).map(|_| {
            let mut client = bob.clone();
            let b = b.clone();
            async move {
                let req = cpb::ListContactsRequest::default();
                client.list_contacts(crm_kit::testing::authed(&b, req)).await
            }
        });
        for r in futures_util::future::join_all(calls).await {
            match r {
                Ok(reply) => assert_eq!(reply.into_inner().contacts.len(), 1),
                Err(s) => failed.push(format!("{:?} {}", s.code(), s.message())),
            }
        }
        // Well inside tenant B's own rate (500 calls/s): only A misbehaves.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let codes = attack.await.unwrap();
    assert!(
        failed.is_empty(),
        "tenant B: {} of 2000 failed: {:?}; tenant A got {codes:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(
        codes,
        std::collections::BTreeMap::from([
            ("grpc InvalidArgument".into(), 100),
            ("grpc Unauthenticated".into(), 25),
            ("json 400".into(), 100),
            ("json 401".into(), 25),
        ]),
        "tenant A's own calls fail with their own codes"
    );
    bob.list_contacts(crm_kit::testing::authed(&b, cpb::ListContactsRequest::default()))
        .await
        .unwrap();
}

crm_kit::backend_tests!(
    malformed_grpc_input_is_the_callers_mistake_on_every_unary_rpc,
    an_oversized_error_or_token_fails_its_own_call_and_no_other_tenants,
);
