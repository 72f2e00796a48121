//! A seeded fuzz over every unary RPC, in both of its forms through the
//! gateway: random messages built from each request's descriptor (random
//! field values, wrong enum numbers, long and odd strings, deep nesting),
//! encoded and then sometimes mangled byte by byte for gRPC, or printed as
//! JSON and sometimes mangled for the Connect face. No answer may be
//! INTERNAL (or UNKNOWN, or HTTP 500), and the gateway and the services go
//! on serving.
//!
//! `CRM_FUZZ_CASES` (default 2,000) sets the number of cases and
//! `CRM_FUZZ_SEED` (default 1) the seed; a failure prints the seed and the
//! case, so it replays. A longer run: `CRM_FUZZ_CASES=200000 CRM_FUZZ_SEED=$RANDOM
//! cargo test -p crm-e2e --test e2e hostile::fuzz -- --nocapture`.

use bytes::Bytes;
use crm_kit::testing::{Backend, token};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use tonic::Code;

use super::{framed, raw};
use crate::harness::up;

/// SplitMix64: small, seeded, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Strings a caller might send: empty, ids, near-ids, long, odd characters.
fn string(r: &mut Rng) -> String {
    match r.below(10) {
        0 => String::new(),
        1 => crm_kit::validate::new_id().to_string(),
        2 => "0190c6e4-8a1b-7cde-9f00-123456789abc".to_owned(),
        3 => "x".repeat(usize::try_from(r.below(5000)).unwrap_or(0)),
        4 => "💥 \u{0}\u{7f}\u{202e}".repeat(usize::try_from(r.below(50)).unwrap_or(0)),
        5 => "v".to_owned() + &r.next().to_string(),
        6 => "   ".to_owned(),
        7 => "a@b.c".to_owned(),
        8 => "EUR".to_owned(),
        _ => format!("{:x}", r.next()),
    }
}

fn value(r: &mut Rng, f: &FieldDescriptor, depth: u32) -> Option<Value> {
    let v = match f.kind() {
        Kind::Double => Value::F64(f64::from_bits(r.next())),
        Kind::Float => Value::F32(f32::from_bits(u32::try_from(r.next() >> 32).unwrap_or(0))),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(r.next() as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(r.next() as i64),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(r.next() as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(r.next()),
        Kind::Bool => Value::Bool(r.chance(50)),
        Kind::String => Value::String(string(r)),
        Kind::Bytes => Value::Bytes(Bytes::from(string(r).into_bytes())),
        // Any number, the enum's or not.
        Kind::Enum(_) => Value::EnumNumber(i32::try_from(r.below(8)).unwrap_or(0) - 1),
        Kind::Message(m) => {
            if depth > 4 {
                return None;
            }
            Value::Message(message(r, &m, depth + 1))
        }
    };
    Some(v)
}

/// A random message of type `m`.
fn message(r: &mut Rng, m: &MessageDescriptor, depth: u32) -> DynamicMessage {
    let mut msg = DynamicMessage::new(m.clone());
    for f in m.fields() {
        if !r.chance(60) {
            continue;
        }
        if f.is_list() {
            let n = r.below(4);
            let items: Vec<Value> = (0..n).filter_map(|_| value(r, &f, depth)).collect();
            msg.set_field(&f, Value::List(items));
        } else if f.is_map() {
            continue;
        } else if let Some(v) = value(r, &f, depth) {
            msg.set_field(&f, v);
        }
    }
    msg
}

/// `bytes`, sometimes with a byte flipped, cut short or doubled.
fn mangle(r: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.is_empty() || r.chance(50) {
        return bytes;
    }
    let at = usize::try_from(r.below(bytes.len() as u64)).unwrap_or(0);
    match r.below(3) {
        0 => bytes[at] ^= 1 << r.below(8),
        1 => bytes.truncate(at),
        _ => {
            let tail = bytes[at..].to_vec();
            bytes.extend(tail);
        }
    }
    bytes
}

async fn random_calls_on_every_unary_rpc_never_get_internal(backend: Backend) {
    let Some(suite) = up(backend, "hostile-fuzz").await else {
        return;
    };
    let cases: u64 = std::env::var("CRM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("CRM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let rpcs: Vec<_> = pool
        .services()
        .filter(|s| crm_gateway::SERVICES.contains(&s.full_name()))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| !m.is_client_streaming() && !m.is_server_streaming())
        .collect();
    let t = token("acme", "ann", &["admin"]);
    let auth = vec![("authorization", format!("Bearer {t}"))];
    let mut r = Rng(seed);
    let mut wrong = Vec::new();
    for case in 0..cases {
        let m = &rpcs[usize::try_from(r.below(rpcs.len() as u64)).unwrap_or(0)];
        let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
        let msg = message(&mut r, &m.input(), 0);
        // A message JSON cannot print (a timestamp past year 9999) goes as gRPC.
        let json = serde_json::to_vec(&msg).ok().filter(|_| r.chance(50));
        if let Some(json) = json {
            let body = mangle(&mut r, json);
            let (status, reply) =
                crate::gateway::http(&suite.url, "POST", &path, Some(&t), "application/json", &body).await;
            if status >= 500 && status != 503 || reply["code"] == "internal" || reply["code"] == "unknown" {
                wrong.push(format!("case {case} JSON {path}: {status} {reply}"));
            }
        } else {
            let bytes = mangle(&mut r, msg.encode_to_vec());
            let a = raw(&suite.channel, &path, &auth, framed(&bytes)).await;
            if matches!(a.code, Code::Internal | Code::Unknown) {
                wrong.push(format!("case {case} gRPC {path}: {:?} {}", a.code, a.message));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "seed {seed}, {} of {cases} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    crate::harness::wait_serving(&suite.url).await;
}

crm_kit::backend_tests!(random_calls_on_every_unary_rpc_never_get_internal);
