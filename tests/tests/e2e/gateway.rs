//! The gateway in front of `crm up`: the same RPCs as JSON over plain
//! HTTP/1.1 (what curl sends), its errors as Connect error JSON with the
//! matching HTTP status, tokens checked before anything is forwarded, a
//! backend that is down, and garbage at the port.

use std::time::{Duration, Instant};

use crm_kit::testing::{Backend, authed, token};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tonic::Code;

use super::harness::{up, wait_serving};

/// One HTTP/1.1 request on a connection of its own, as curl sends it; the
/// reply's status and body (JSON, or the raw text under "raw").
pub async fn http(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let text = String::from_utf8_lossy(&reply).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or_else(|_| json!({ "raw": body }));
    (status, json)
}

async fn call(url: &str, token: &str, method: &str, body: Value) -> (u16, Value) {
    http(
        url,
        "POST",
        method,
        Some(token),
        "application/json",
        body.to_string().as_bytes(),
    )
    .await
}

/// `call`, expecting 200.
async fn ok(url: &str, token: &str, method: &str, body: Value) -> Value {
    let (status, reply) = call(url, token, method, body).await;
    assert_eq!(status, 200, "{method}: {reply}");
    reply
}

const P: &str = "/crm.pipeline.v1.PipelineService";

#[tokio::test]
async fn the_tour_works_as_json_over_plain_http() {
    let suite = up(Backend::Sqlite, "gw-tour").await.unwrap();
    let url = &suite.url;
    let t = token("acme", "ann", &["admin"]);
    let stage =
        |name: &str, kind: &str, probability: i32| json!({"name": name, "kind": kind, "probability": probability});
    let p = ok(
        url,
        &t,
        &format!("{P}/CreatePipeline"),
        json!({"pipeline": {"name": "Sales", "stages": [
            stage("Lead", "STAGE_KIND_OPEN", 10),
            stage("Proposal", "STAGE_KIND_OPEN", 60),
            stage("Won", "STAGE_KIND_WON", 100),
            stage("Lost", "STAGE_KIND_LOST", 0),
        ]}}),
    )
    .await["pipeline"]
        .clone();
    let pipeline_id = p["id"].as_str().unwrap().to_owned();
    let proposal = p["stages"][1]["id"].as_str().unwrap().to_owned();

    let contact = ok(
        url,
        &t,
        "/crm.contacts.v1.ContactsService/CreateContact",
        json!({"contact": {"firstName": "Dana", "lastName": "Scully", "emails": ["dana@acme.example"]}}),
    )
    .await["contact"]
        .clone();
    let today = chrono::Utc::now().date_naive();
    let close = today + chrono::Days::new(20);
    use chrono::Datelike;
    let deal = ok(
        url,
        &t,
        &format!("{P}/CreateDeal"),
        json!({"deal": {
            "pipelineId": pipeline_id,
            "title": "Acme renewal",
            "amount": {"currencyCode": "EUR", "units": "12000"},
            "contactId": contact["id"],
            "expectedCloseDate": {"year": close.year(), "month": close.month(), "day": close.day()},
        }}),
    )
    .await["deal"]
        .clone();
    assert_eq!(deal["title"], "Acme renewal");
    assert_eq!(deal["amount"]["units"], "12000", "int64 is a string in proto3 JSON");
    assert_eq!(deal["ownerId"], "ann");

    let moved = ok(
        url,
        &t,
        &format!("{P}/MoveDeal"),
        json!({"dealId": deal["id"], "stageId": proposal, "etag": deal["etag"]}),
    )
    .await;
    assert_eq!(moved["deal"]["stageId"], proposal);

    let history = ok(url, &t, &format!("{P}/ListDealHistory"), json!({"dealId": deal["id"]})).await;
    let transitions = history["transitions"].as_array().unwrap();
    assert_eq!(transitions.len(), 2, "{history}");
    assert_eq!(transitions[1]["toStageId"], proposal);

    let board = ok(url, &t, &format!("{P}/GetBoard"), json!({"pipelineId": pipeline_id})).await;
    let counts: Vec<&str> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dealCount"].as_str().unwrap())
        .collect();
    assert_eq!(counts, ["0", "1", "0", "0"], "{board}");

    // 12,000 EUR in Proposal (60%): 7,200 weighted, in the bucket of its
    // close month, once analytics has the move (it follows the events).
    let forecast_body = json!({
        "pipelineId": pipeline_id,
        "from": {"year": today.year(), "month": today.month(), "day": 1},
        "to": {"year": close.year(), "month": close.month(), "day": close.day()},
        "grouping": "FORECAST_GROUPING_MONTH",
        "seed": "7",
    });
    let mut forecast = Value::Null;
    for _ in 0..100 {
        let (status, reply) = call(
            url,
            &t,
            "/crm.analytics.v1.AnalyticsService/GetForecast",
            forecast_body.clone(),
        )
        .await;
        forecast = reply;
        let weighted = forecast["buckets"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["periodStart"]["month"] == close.month()))
            .map(|b| b["weighted"].clone());
        if status == 200 && weighted.as_ref().is_some_and(|w| w["units"] == "7200") {
            assert_eq!(weighted.unwrap()["currencyCode"], "EUR");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the forecast never showed 7,200 EUR weighted: {forecast}");
}

#[tokio::test]
async fn json_errors_are_connect_errors_with_their_http_status() {
    let suite = up(Backend::Sqlite, "gw-errors").await.unwrap();
    let url = &suite.url;
    let t = token("acme", "ann", &["admin"]);
    let get_deal = format!("{P}/GetDeal");

    // No token, and a token signed with another secret: 401.
    let (status, e) = http(url, "POST", &get_deal, None, "application/json", b"{}").await;
    assert_eq!((status, e["code"].as_str()), (401, Some("unauthenticated")), "{e}");
    let forged =
        crm_kit::auth::TokenVerifier::hs256(b"another-secret-another-secret-00").mint("acme", "ann", &["admin"], 60);
    let (status, e) = call(url, &forged, &get_deal, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (401, Some("unauthenticated")), "{e}");

    // A bad field: 400, and the violation names the field.
    let (status, e) = call(url, &t, &format!("{P}/CreateDeal"), json!({"deal": {"title": ""}})).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_argument")), "{e}");
    let details = e["details"].as_array().unwrap();
    let bad = details.iter().find(|d| d["type"] == "google.rpc.BadRequest").unwrap();
    let fields: Vec<&str> = bad["debug"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["field"].as_str())
        .collect();
    assert!(fields.contains(&"deal.pipeline_id"), "{e}");
    assert!(
        !bad["value"].as_str().unwrap().is_empty(),
        "the detail's bytes are there too"
    );

    // Not JSON, or not the message: 400 naming the problem.
    let (status, e) = http(url, "POST", &get_deal, Some(&t), "application/json", b"{\"id\": ").await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_argument")), "{e}");
    let (status, e) = call(url, &t, &get_deal, json!({"noSuchField": 1})).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_argument")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("noSuchField"), "{e}");

    // Unknown deal: 404. Unknown method: 501. A stream: 501.
    let (status, e) = call(
        url,
        &t,
        &get_deal,
        json!({"id": "01936f7e-0000-7000-8000-000000000000"}),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (status, e) = call(url, &t, &format!("{P}/NoSuchMethod"), json!({})).await;
    assert_eq!((status, e["code"].as_str()), (501, Some("unimplemented")), "{e}");
    let (status, e) = call(url, &t, &format!("{P}/ExportDeals"), json!({})).await;
    assert_eq!((status, e["code"].as_str()), (501, Some("unimplemented")), "{e}");

    // Wrong content type: 415. A GET: 400. A body over the limit: refused.
    let (status, _) = http(url, "POST", &get_deal, Some(&t), "text/plain", b"id=1").await;
    assert_eq!(status, 415);
    let (status, e) = http(url, "GET", &get_deal, Some(&t), "application/json", b"").await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_argument")), "{e}");
    let huge = vec![b' '; 5 * 1024 * 1024];
    let (status, e) = http(url, "POST", &get_deal, Some(&t), "application/json", &huge).await;
    assert_eq!((status, e["code"].as_str()), (429, Some("resource_exhausted")), "{e}");
}

#[tokio::test]
async fn grpc_calls_without_a_valid_token_stop_at_the_gateway() {
    let suite = up(Backend::Sqlite, "gw-grpc").await.unwrap();
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let req = || pb::ListPipelinesRequest::default();
    let err = pipeline.list_pipelines(req()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let forged =
        crm_kit::auth::TokenVerifier::hs256(b"another-secret-another-secret-00").mint("acme", "ann", &["admin"], 60);
    let err = pipeline.list_pipelines(authed(&forged, req())).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let t = token("acme", "ann", &["admin"]);
    assert!(pipeline.list_pipelines(authed(&t, req())).await.is_ok());
}

#[tokio::test]
async fn a_backend_that_is_down_is_unavailable_at_once() {
    let (url, channel, _health) = gateway_with(&crm_gateway::GatewayConfig::all_at(&nowhere().await)).await;
    let t = token("acme", "ann", &["admin"]);

    let started = Instant::now();
    let err = PipelineServiceClient::new(channel)
        .list_pipelines(authed(&t, pb::ListPipelinesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let (status, e) = call(&url, &t, &format!("{P}/ListPipelines"), json!({})).await;
    assert_eq!((status, e["code"].as_str()), (503, Some("unavailable")), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// A gateway of its own with `config` (after one round of health checks):
/// its URL, a channel to it, and its health reporter.
async fn gateway_with(
    config: &crm_gateway::GatewayConfig,
) -> (String, tonic::transport::Channel, tonic_health::server::HealthReporter) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let verifier = crm_kit::auth::TokenVerifier::hs256(crm_kit::testing::TEST_SECRET);
    let (gateway, health) = crm_gateway::Gateway::new(config, verifier).unwrap();
    gateway.check_backends(&health).await;
    tokio::spawn(crm_gateway::serve(listener, gateway, std::future::pending()));
    let channel = wait_serving(&url).await;
    (url, channel, health)
}

/// The URL of a port nobody listens on.
async fn nowhere() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    crm::local_url(l.local_addr().unwrap())
}

/// Sends each of `junk()` on a connection of its own to `url`, and reads
/// what comes back, if anything.
async fn send_junk(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    for bytes in junk() {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let _ = s.write_all(&bytes).await;
        let _ = s.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut sink)).await;
    }
}

/// A stand-in backend that only counts the connections made to it.
async fn counting_backend() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, count)
}

#[tokio::test]
async fn garbage_never_reaches_a_backend() {
    let (backend, connections) = counting_backend().await;
    let (url, channel, _health) = gateway_with(&crm_gateway::GatewayConfig::all_at(&backend)).await;
    // The health round-trip above was the gateway's own doing; count from here.
    connections.store(0, std::sync::atomic::Ordering::SeqCst);
    send_junk(&url).await;
    // Calls without a valid token, and JSON of the wrong type or too large.
    let t = token("acme", "ann", &["admin"]);
    let path = format!("{P}/GetDeal");
    let _ = http(&url, "POST", &path, None, "application/json", b"{}").await;
    let _ = http(&url, "POST", &path, Some("garbage"), "application/json", b"{}").await;
    let _ = http(&url, "POST", &path, Some(&t), "application/json", b"\xff\xfe not json").await;
    let _ = http(&url, "POST", &path, Some(&t), "application/xml", b"<x/>").await;
    let _ = http(
        &url,
        "POST",
        &path,
        Some(&t),
        "application/json",
        &vec![b'['; 5 * 1024 * 1024],
    )
    .await;
    let _ = PipelineServiceClient::new(channel)
        .list_pipelines(pb::ListPipelinesRequest::default())
        .await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing reached the backend"
    );
}

/// Bytes that are not a request: noise, a cut HTTP/2 preface, a truncated
/// gRPC-looking request, and 4 KiB of pseudo-random bytes.
fn junk() -> Vec<Vec<u8>> {
    let mut r = 0x9E37_79B9_7F4A_7C15_u64;
    vec![
        b"\x00\x01\x02 not http at all \xff\xfe\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x10\x01".to_vec(),
        b"POST /crm.pipeline.v1.PipelineService/GetDeal HTTP/1.1\r\nContent-Type: application/grpc\r\nContent-Length: 99\r\n\r\n\x00\x00".to_vec(),
        (0..4096)
            .map(|_| {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r as u8
            })
            .collect(),
    ]
}

#[tokio::test]
async fn garbage_at_the_port_does_not_stop_the_gateway() {
    let suite = up(Backend::Sqlite, "gw-garbage").await.unwrap();
    send_junk(&suite.url).await;
    // Still serving, both faces.
    let t = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    assert!(
        pipeline
            .list_pipelines(authed(&t, pb::ListPipelinesRequest::default()))
            .await
            .is_ok()
    );
    let (status, _) = call(&suite.url, &t, &format!("{P}/ListPipelines"), json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn one_tenant_over_its_rate_is_refused_while_another_goes_through() {
    use tonic_types::StatusExt;
    let suite = up(Backend::Sqlite, "gw-rate").await.unwrap();
    // A gateway of its own, with a small bucket, in front of the suite.
    let config = crm_gateway::GatewayConfig {
        limits: crm_gateway::limits::LimitConfig {
            rate: 1.0,
            burst: 5.0,
            in_flight: 64,
            capacity: 1024,
        },
        ..crm_gateway::GatewayConfig::all_at(&suite.url)
    };
    let (url, channel, _health) = gateway_with(&config).await;
    let (acme, globex) = (token("acme", "ann", &["admin"]), token("globex", "bob", &["admin"]));
    let mut pipeline = PipelineServiceClient::new(channel);
    let list = || pb::ListPipelinesRequest::default();

    for i in 0..5 {
        assert!(
            pipeline.list_pipelines(authed(&acme, list())).await.is_ok(),
            "call {i} of the burst"
        );
    }
    let err = pipeline.list_pipelines(authed(&acme, list())).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let retry = err.get_details_retry_info().and_then(|r| r.retry_delay).unwrap();
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(1), "{retry:?}");
    // JSON too: 429 with the RetryInfo in the details.
    let (status, e) = call(&url, &acme, &format!("{P}/ListPipelines"), json!({})).await;
    assert_eq!((status, e["code"].as_str()), (429, Some("resource_exhausted")), "{e}");
    assert_eq!(e["details"][0]["type"], "google.rpc.RetryInfo", "{e}");
    // Another tenant's calls go through.
    assert!(pipeline.list_pipelines(authed(&globex, list())).await.is_ok());
    assert_eq!(
        ok(&url, &globex, &format!("{P}/ListPipelines"), json!({})).await["pipelines"],
        json!([])
    );
}

#[tokio::test]
async fn reflection_lists_every_contract_and_health_reports_each_backend() {
    use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let suite = up(Backend::Sqlite, "gw-reflection").await.unwrap();
    // What `grpcurl list` asks, without a token.
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(suite.channel.clone())
        .server_reflection_info(tokio_stream::once(req))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = replies.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in crm_gateway::SERVICES.iter().chain(&["grpc.health.v1.Health"]) {
        assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
    // Health: each backend serving, from its own health service.
    let mut health = HealthClient::new(suite.channel.clone());
    assert_every_backend(&mut health, ServingStatus::Serving).await;
    // A gateway in front of nothing reports its backends not serving.
    let (_url, channel, _health) = gateway_with(&crm_gateway::GatewayConfig::all_at(&nowhere().await)).await;
    let mut health = HealthClient::new(channel);
    assert_every_backend(&mut health, ServingStatus::NotServing).await;
    // The gateway itself is up (its readiness probe asks for this entry).
    let req = tonic_health::pb::HealthCheckRequest {
        service: crm_gateway::HEALTH_NAME.to_owned(),
    };
    assert_eq!(
        health.check(req).await.unwrap().into_inner().status,
        ServingStatus::Serving as i32
    );
}

/// Asserts that the gateway's health service reports `want` for every
/// backend and overall.
async fn assert_every_backend(
    health: &mut tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>,
    want: tonic_health::pb::health_check_response::ServingStatus,
) {
    for service in crm_gateway::SERVICES.iter().chain(&[""]) {
        let req = tonic_health::pb::HealthCheckRequest {
            service: (*service).to_owned(),
        };
        let status = health.check(req).await.unwrap().into_inner().status;
        assert_eq!(status, want as i32, "{service}");
    }
}

#[tokio::test]
async fn crm_serve_gateway_routes_each_service_to_its_url() {
    let suite = up(Backend::Sqlite, "gw-serve").await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    // The four services at their own URLs (here all behind the suite's port);
    // the gateway has no database.
    let config = crm::ServiceConfig {
        contacts_url: suite.url.clone(),
        pipeline_url: suite.url.clone(),
        tasks_url: suite.url.clone(),
        analytics_url: suite.url.clone(),
        ..crm::ServiceConfig::new("", crm_kit::testing::auth_config())
    };
    tokio::spawn(crm::run_service(
        crm::ServiceName::Gateway,
        listener,
        config,
        std::future::pending(),
    ));
    let channel = wait_serving(&url).await;
    let t = token("acme", "ann", &["admin"]);
    let p = super::harness::sales_pipeline(&mut PipelineServiceClient::new(channel.clone()), &t).await;
    let got = ok(&url, &t, &format!("{P}/GetPipeline"), json!({"id": p.id})).await;
    assert_eq!(got["pipeline"]["name"], "Sales");
    let mut tasks = crm_proto::tasks::v1::tasks_service_client::TasksServiceClient::new(channel);
    let rules = tasks
        .list_rules(authed(&t, crm_proto::tasks::v1::ListRulesRequest::default()))
        .await
        .unwrap();
    assert!(rules.into_inner().rules.is_empty());
}

#[tokio::test]
async fn json_calls_work_over_http2_too() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let suite = up(Backend::Sqlite, "gw-h2").await.unwrap();
    let t = token("acme", "ann", &["admin"]);
    // tonic's channel speaks HTTP/2 only: a JSON call on it is JSON over h2c.
    let req = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!("{}{P}/ListPipelines", suite.url))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {t}"))
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"{}"),
        )))
        .unwrap();
    let reply = suite.channel.clone().oneshot(req).await.unwrap();
    assert_eq!(reply.version(), tonic::codegen::http::Version::HTTP_2);
    assert_eq!(reply.status(), 200);
    let body = reply.into_body().collect().await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json, json!({"pipelines": [], "nextPageToken": ""}));
}

#[tokio::test]
async fn streaming_calls_pass_through_the_gateway_both_ways() {
    use crm_proto::tasks::v1::{self as tpb, tasks_service_client::TasksServiceClient};
    let suite = up(Backend::Sqlite, "gw-streams").await.unwrap();
    let t = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let p = super::harness::sales_pipeline(&mut pipeline, &t).await;
    let ts = |secs: i64| prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    };
    let now = unix_now();

    // A client stream: three deals with their history, one of them bad.
    let row = |title: &str, history: Vec<pb::HistoryEntry>| pb::ImportDealsRequest {
        pipeline_id: p.id.clone(),
        title: title.into(),
        owner_id: "ann".into(),
        create_time: Some(ts(now - 3 * 86_400)),
        history,
        ..Default::default()
    };
    let entry = |stage: usize, at: i64| pb::HistoryEntry {
        stage_id: p.stages[stage].id.clone(),
        entered_at: Some(ts(at)),
    };
    let rows = vec![
        row("Imported A", vec![entry(0, now - 3 * 86_400), entry(1, now - 86_400)]),
        row("Imported B", vec![entry(0, now - 3 * 86_400)]),
        // Out of order: rejected with its index, the rest go on.
        row(
            "Imported C",
            vec![entry(0, now - 3 * 86_400), entry(1, now - 4 * 86_400)],
        ),
    ];
    let imported = pipeline
        .import_deals(authed(&t, tokio_stream::iter(rows)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((imported.imported, imported.rejected), (2, 1), "{imported:?}");
    assert_eq!(imported.errors[0].index, 2);

    // A server stream: the two deals back, with their history.
    let mut exported = pipeline
        .export_deals(authed(
            &t,
            pb::ExportDealsRequest {
                pipeline_id: p.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut titles = Vec::new();
    while let Some(d) = exported.message().await.unwrap() {
        titles.push((d.deal.unwrap().title, d.history.len()));
    }
    titles.sort();
    assert_eq!(titles, [("Imported A".to_owned(), 2), ("Imported B".to_owned(), 1)]);

    // A stream that stays open: a reminder reaches its watcher through the gateway.
    let mut tasks = TasksServiceClient::new(suite.channel.clone());
    let mut watch = tasks
        .watch_reminders(authed(&t, tpb::WatchRemindersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let task = tpb::Task {
        title: "Call back".into(),
        due_time: Some(ts(unix_now() + 2)),
        remind_before: vec![prost_types::Duration { seconds: 1, nanos: 0 }],
        ..Default::default()
    };
    let req = tpb::CreateTaskRequest {
        task: Some(task),
        request_id: String::new(),
    };
    let created = tasks
        .create_task(authed(&t, req))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(15), watch.message())
        .await
        .expect("a reminder within 15 s")
        .unwrap()
        .expect("the stream is open");
    assert_eq!(got.reminder.unwrap().task.unwrap().id, created.id);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
