//! An oversized error (a BadRequest naming 150 fields) or token (100 KB)
//! fails its own call with its own code, over gRPC and over JSON, while
//! another tenant's calls through the same gateway all succeed.

use crm_kit::testing::{Backend, token};
use tonic::Code;

use crate::harness::up;

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

crm_kit::backend_tests!(an_oversized_error_or_token_fails_its_own_call_and_no_other_tenants);
