//! The security matrix, through the gateway of `crm up`, over every RPC of
//! every service (read from the contracts' descriptor set, so a new RPC
//! that nobody classified fails here), on both faces (gRPC, and JSON for
//! the unary ones): no token, an expired token, a bad signature, `alg:
//! none`, and each role. Then refused calls with real requests, checked to
//! have changed nothing, and another tenant's token against real records.

use std::time::Duration;

use base64::Engine;
use bytes::{Buf, BufMut, Bytes};
use crm_kit::testing::{TEST_SECRET, authed, token};
use crm_proto::{
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as tpb, tasks_service_client::TasksServiceClient},
};
use crm_tenancy::Access;
use prost_reflect::DescriptorPool;
use serde_json::json;
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};

use super::harness::{sales_pipeline, up_anywhere};

/// What each RPC does, as the services classify it.
fn access(method: &str) -> Option<Access> {
    Some(match method {
        "GetCompany"
        | "ListCompanies"
        | "GetContact"
        | "ListContacts"
        | "ListActivities"
        | "GetPipeline"
        | "ListPipelines"
        | "GetDeal"
        | "ListDeals"
        | "ListDealHistory"
        | "GetBoard"
        | "GetTask"
        | "ListTasks"
        | "GetRule"
        | "ListRules"
        | "WatchReminders"
        | "GetFunnel"
        | "GetStageDurations"
        | "GetForecast"
        | "GetVelocity"
        | "GetBottlenecks"
        | "GetOwnerPerformance"
        | "GetFieldDefinition"
        | "ListFieldDefinitions"
        | "GetPurchaseSummary" => Access::Read,
        "CreateCompany" | "CreateContact" | "LogActivity" | "CreateDeal" | "CreateTask" => Access::Create,
        "UpdateCompany" | "DeleteCompany" | "UpdateContact" | "DeleteContact" | "MergeContacts" | "UpdateDeal"
        | "DeleteDeal" | "MoveDeal" | "UpdateTask" | "CompleteTask" | "DeleteTask" => Access::Change,
        "GetTenantSettings" => Access::Read,
        "ImportDeals" => Access::Import,
        "ExportDeals" => Access::Export,
        "CreatePipeline"
        | "UpdatePipeline"
        | "DeletePipeline"
        | "CreateRule"
        | "UpdateRule"
        | "DeleteRule"
        | "RebuildProjections"
        | "UpdateTenantSettings"
        | "CreateFieldDefinition"
        | "UpdateFieldDefinition"
        | "ArchiveFieldDefinition"
        | "DeleteFieldDefinition" => Access::Configure,
        _ => return None,
    })
}

/// Whether `role` may make calls of `kind` at all (reps' changes are
/// further limited to their own records, checked below with real ones).
fn allowed(role: &str, kind: Access) -> bool {
    match kind {
        Access::Read => true,
        Access::Create | Access::Change => role != "viewer",
        Access::Import | Access::Export => role == "admin" || role == "manager",
        Access::Configure => role == "admin",
    }
}

/// Messages as bytes, whatever their type.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A deal in `pipeline_id`, a contact and a task that `who` (signed in with
/// `t`) creates, and so owns or is assigned.
async fn owned_records(
    channel: &Channel,
    t: &str,
    who: &str,
    pipeline_id: &str,
) -> (pb::Deal, cpb::Contact, tpb::Task) {
    let deal = pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: pipeline_id.into(),
            title: format!("{who}'s deal"),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let deal = PipelineServiceClient::new(channel.clone())
        .create_deal(authed(t, deal))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    let contact = cpb::CreateContactRequest {
        contact: Some(cpb::Contact {
            first_name: format!("{who}'s contact"),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let contact = ContactsServiceClient::new(channel.clone())
        .create_contact(authed(t, contact))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let task = tpb::CreateTaskRequest {
        task: Some(tpb::Task {
            title: format!("{who}'s task"),
            due_time: Some(prost_types::Timestamp {
                seconds: jsonwebtoken::get_current_timestamp() as i64 + 86_400,
                nanos: 0,
            }),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let task = TasksServiceClient::new(channel.clone())
        .create_task(authed(t, task))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    (deal, contact, task)
}

/// Asserts that `r` was refused for want of permission.
fn denied<T>(r: Result<tonic::Response<T>, Status>, what: &str) {
    let code = r.map(|_| ()).unwrap_err().code();
    assert_eq!(code, Code::PermissionDenied, "{what}");
}

/// Calls `path` over gRPC with one empty message and `token`: the code it
/// ends with, or `Ok` for a stream that is still open after a second.
async fn grpc_code(channel: &Channel, path: &str, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let mut req = Request::new(tokio_stream::once(Bytes::new()));
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = path.parse().unwrap();
    let call = async {
        let mut stream = grpc.streaming(req, path, Raw).await?.into_inner();
        while stream.message().await?.is_some() {}
        Ok::<_, Status>(())
    };
    match tokio::time::timeout(Duration::from_secs(1), call).await {
        Ok(Ok(())) | Err(_) => Code::Ok,
        Ok(Err(status)) => status.code(),
    }
}

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn every_rpc_refuses_bad_tokens_and_roles_it_does_not_allow_on_both_faces() {
    let suite = up_anywhere("security-matrix").await;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |exp: u64| json!({"sub": "ann", "tid": "acme", "roles": ["admin"], "exp": exp, "iat": now});
    let sign = |secret: &[u8], exp: u64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims(exp),
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("expired", Some(sign(TEST_SECRET, now - 3600))),
        (
            "bad signature",
            Some(sign(b"another-secret-another-secret-00", now + 3600)),
        ),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(now + 3600))
            )),
        ),
    ];
    let roles = ["admin", "manager", "rep", "viewer"];

    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let (mut cells, mut failures) = (0, Vec::new());
    let mut methods = 0;
    for service in crm_gateway::SERVICES {
        let s = pool.get_service_by_name(service).unwrap();
        for m in s.methods() {
            methods += 1;
            let path = format!("/{service}/{}", m.name());
            let kind = access(m.name()).unwrap_or_else(|| panic!("{path} is not classified in this test"));
            let unary = !m.is_client_streaming() && !m.is_server_streaming();
            for (what, t) in &bad {
                cells += 1;
                let got = grpc_code(&suite.channel, &path, t.as_deref()).await;
                if got != Code::Unauthenticated {
                    failures.push(format!("{path} gRPC {what}: {got:?}"));
                }
                if unary {
                    cells += 1;
                    let (status, e) =
                        super::gateway::http(&suite.url, "POST", &path, t.as_deref(), "application/json", b"{}").await;
                    if status != 401 {
                        failures.push(format!("{path} JSON {what}: {status} {e}"));
                    }
                }
            }
            for role in roles {
                let t = token("acme", &format!("{role}-user"), &[role]);
                let want_denied = !allowed(role, kind);
                cells += 1;
                let got = grpc_code(&suite.channel, &path, Some(&t)).await;
                // An empty request that got past the role check is a valid
                // one (a list, the settings) or names its missing fields.
                let want = if want_denied {
                    vec![Code::PermissionDenied]
                } else {
                    vec![Code::Ok, Code::InvalidArgument]
                };
                if !want.contains(&got) {
                    failures.push(format!("{path} gRPC as {role}: {got:?}, expected one of {want:?}"));
                }
                if unary {
                    cells += 1;
                    let (status, e) =
                        super::gateway::http(&suite.url, "POST", &path, Some(&t), "application/json", b"{}").await;
                    let want: &[u16] = if want_denied { &[403] } else { &[200, 400] };
                    if !want.contains(&status) {
                        failures.push(format!("{path} JSON as {role}: {status} {e}, expected one of {want:?}"));
                    }
                }
            }
        }
    }
    println!(
        "security matrix: {methods} RPCs, {cells} cells, {} wrong",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(methods >= 49 && cells > 600, "{methods} methods, {cells} cells");
}

#[tokio::test]
async fn refused_calls_change_nothing_and_reps_change_only_their_own() {
    let suite = up_anywhere("security-refused").await;
    let admin = token("acme", "ann", &["admin"]);
    let (rep, other_rep, viewer, manager) = (
        token("acme", "raj", &["rep"]),
        token("acme", "bob", &["rep"]),
        token("acme", "vic", &["viewer"]),
        token("acme", "max", &["manager"]),
    );
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let mut contacts = ContactsServiceClient::new(suite.channel.clone());
    let mut tasks = TasksServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;
    let deal = |title: &str| pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: p.id.clone(),
            title: title.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // raj's deal, contact and task.
    let (raj_deal, raj_contact, raj_task) = owned_records(&suite.channel, &rep, "raj", &p.id).await;

    // A viewer creates nothing.
    denied(
        pipeline.create_deal(authed(&viewer, deal("Viewer's deal"))).await,
        "viewer creates a deal",
    );
    // bob, another rep, changes none of raj's records.
    let move_req = |etag: &str| pb::MoveDealRequest {
        deal_id: raj_deal.id.clone(),
        stage_id: p.stages[1].id.clone(),
        etag: etag.into(),
        lost_reason: String::new(),
    };
    denied(
        pipeline.move_deal(authed(&other_rep, move_req(&raj_deal.etag))).await,
        "bob moves raj's deal",
    );
    denied(
        pipeline
            .delete_deal(authed(
                &other_rep,
                pb::DeleteDealRequest {
                    id: raj_deal.id.clone(),
                    etag: raj_deal.etag.clone(),
                },
            ))
            .await,
        "bob deletes raj's deal",
    );
    denied(
        contacts
            .delete_contact(authed(
                &other_rep,
                cpb::DeleteContactRequest {
                    id: raj_contact.id.clone(),
                    etag: raj_contact.etag.clone(),
                },
            ))
            .await,
        "bob deletes raj's contact",
    );
    denied(
        tasks
            .complete_task(authed(
                &other_rep,
                tpb::CompleteTaskRequest {
                    id: raj_task.id.clone(),
                    etag: raj_task.etag.clone(),
                },
            ))
            .await,
        "bob completes raj's task",
    );
    // Reps and managers configure nothing.
    for (who, t) in [("rep", &rep), ("manager", &manager)] {
        denied(
            pipeline
                .delete_pipeline(authed(
                    t,
                    pb::DeletePipelineRequest {
                        id: p.id.clone(),
                        etag: p.etag.clone(),
                    },
                ))
                .await,
            &format!("{who} deletes the pipeline"),
        );
    }
    // Nothing changed: the deal, contact, task and pipeline are as they were,
    // and there is still one deal.
    let read = authed(
        &admin,
        pb::GetDealRequest {
            id: raj_deal.id.clone(),
        },
    );
    assert_eq!(
        pipeline.get_deal(read).await.unwrap().into_inner().deal.unwrap(),
        raj_deal
    );
    let read = authed(
        &admin,
        cpb::GetContactRequest {
            id: raj_contact.id.clone(),
        },
    );
    assert_eq!(
        contacts
            .get_contact(read)
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap()
            .etag,
        raj_contact.etag
    );
    let read = authed(
        &admin,
        tpb::GetTaskRequest {
            id: raj_task.id.clone(),
        },
    );
    assert_eq!(tasks.get_task(read).await.unwrap().into_inner().task.unwrap(), raj_task);
    let read = authed(&admin, pb::GetPipelineRequest { id: p.id.clone() });
    assert_eq!(
        pipeline
            .get_pipeline(read)
            .await
            .unwrap()
            .into_inner()
            .pipeline
            .unwrap()
            .etag,
        p.etag
    );
    let list = authed(
        &admin,
        pb::ListDealsRequest {
            pipeline_id: p.id.clone(),
            ..Default::default()
        },
    );
    assert_eq!(pipeline.list_deals(list).await.unwrap().into_inner().deals.len(), 1);

    // raj changes his own deal; a manager changes anyone's.
    let moved = pipeline
        .move_deal(authed(&rep, move_req(&raj_deal.etag)))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    let back = pb::MoveDealRequest {
        stage_id: p.stages[0].id.clone(),
        ..move_req(&moved.etag)
    };
    assert!(pipeline.move_deal(authed(&manager, back)).await.is_ok());

    // Another tenant's token finds none of acme's records.
    let globex = token("globex", "gus", &["admin"]);
    let err = pipeline
        .get_deal(authed(
            &globex,
            pb::GetDealRequest {
                id: raj_deal.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = pipeline.move_deal(authed(&globex, move_req(""))).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = contacts
        .get_contact(authed(
            &globex,
            cpb::GetContactRequest {
                id: raj_contact.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn under_owner_visibility_reps_see_only_their_own_and_managers_see_all() {
    use crm_proto::{
        analytics::v1::{self as apb, analytics_service_client::AnalyticsServiceClient},
        common::v1::Visibility,
    };
    let suite = up_anywhere("security-visibility").await;
    let admin = token("acme", "ann", &["admin"]);
    let raj = token("acme", "raj", &["rep"]);
    let bob = token("acme", "bob", &["rep"]);
    let max = token("acme", "max", &["manager"]);
    let vic = token("acme", "vic", &["viewer"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let mut contacts = ContactsServiceClient::new(suite.channel.clone());
    let mut tasks = TasksServiceClient::new(suite.channel.clone());
    let mut analytics = AnalyticsServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;

    // Each rep's deal, contact and task.
    let mut mine = std::collections::HashMap::new();
    for (who, t) in [("raj", &raj), ("bob", &bob)] {
        let records = owned_records(&suite.channel, t, who, &p.id).await;
        mine.insert(who, records);
    }
    let (bob_deal, bob_contact, bob_task) = mine["bob"].clone();
    let get_bob_deal = |t: &str| {
        authed(
            t,
            pb::GetDealRequest {
                id: bob_deal.id.clone(),
            },
        )
    };
    // TEAM (the default): raj reads bob's deal.
    assert!(pipeline.get_deal(get_bob_deal(&raj)).await.is_ok());

    // An admin switches the tenant to OWNER.
    let req = pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings {
            visibility: Visibility::Owner as i32,
            ..Default::default()
        }),
    };
    denied(
        pipeline.update_tenant_settings(authed(&max, req.clone())).await,
        "a manager sets visibility",
    );
    let set = pipeline
        .update_tenant_settings(authed(&admin, req))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.settings.unwrap().etag, "v1");

    let deals_of = |t: &str| {
        authed(
            t,
            pb::ListDealsRequest {
                pipeline_id: p.id.clone(),
                ..Default::default()
            },
        )
    };
    let contacts_of = |t: &str| authed(t, cpb::ListContactsRequest::default());
    let tasks_of = |t: &str| authed(t, tpb::ListTasksRequest::default());
    let funnel_of = |t: &str| {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        authed(
            t,
            apb::GetFunnelRequest {
                pipeline_id: p.id.clone(),
                owner_id: String::new(),
                period: Some(apb::Period {
                    from: Some(prost_types::Timestamp {
                        seconds: now - 86_400,
                        nanos: 0,
                    }),
                    to: Some(prost_types::Timestamp {
                        seconds: now + 86_400,
                        nanos: 0,
                    }),
                }),
                ..Default::default()
            },
        )
    };
    // The other services apply the setting from its event, within moments.
    let mut applied = false;
    for _ in 0..100 {
        let c = contacts
            .list_contacts(contacts_of(&raj))
            .await
            .unwrap()
            .into_inner()
            .contacts
            .len();
        let t = tasks.list_tasks(tasks_of(&raj)).await.unwrap().into_inner().tasks.len();
        let f: i64 = analytics
            .get_funnel(funnel_of(&raj))
            .await
            .map(|r| r.into_inner().stages.iter().map(|s| s.current_count).sum())
            .unwrap_or(-1);
        if (c, t, f) == (1, 1, 1) {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(applied, "contacts, tasks and analytics follow the setting");

    for (who, t, other) in [("raj", &raj, "bob"), ("bob", &bob, "raj")] {
        let (deal, contact, task) = &mine[who];
        let (their_deal, their_contact, their_task) = &mine[other];
        let deals = pipeline.list_deals(deals_of(t)).await.unwrap().into_inner().deals;
        assert_eq!(
            deals.iter().map(|d| &d.id).collect::<Vec<_>>(),
            [&deal.id],
            "{who}'s deals"
        );
        let board = pipeline
            .get_board(authed(
                t,
                pb::GetBoardRequest {
                    pipeline_id: p.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            board.columns.iter().map(|c| c.deal_count).sum::<i64>(),
            1,
            "{who}'s board"
        );
        let contacts_seen = contacts
            .list_contacts(contacts_of(t))
            .await
            .unwrap()
            .into_inner()
            .contacts;
        assert_eq!(contacts_seen.iter().map(|c| &c.id).collect::<Vec<_>>(), [&contact.id]);
        let tasks_seen = tasks.list_tasks(tasks_of(t)).await.unwrap().into_inner().tasks;
        assert_eq!(tasks_seen.iter().map(|t| &t.id).collect::<Vec<_>>(), [&task.id]);
        // The other rep's records read as missing, everywhere.
        let hidden = |r: Result<(), Status>, what: &str| {
            assert_eq!(r.unwrap_err().code(), Code::NotFound, "{who}: {what}");
        };
        let get = authed(
            t,
            pb::GetDealRequest {
                id: their_deal.id.clone(),
            },
        );
        hidden(pipeline.get_deal(get).await.map(|_| ()), "their deal");
        let history = authed(
            t,
            pb::ListDealHistoryRequest {
                deal_id: their_deal.id.clone(),
                ..Default::default()
            },
        );
        hidden(
            pipeline.list_deal_history(history).await.map(|_| ()),
            "their deal's history",
        );
        let mv = pb::MoveDealRequest {
            deal_id: their_deal.id.clone(),
            stage_id: p.stages[1].id.clone(),
            etag: String::new(),
            lost_reason: String::new(),
        };
        hidden(pipeline.move_deal(authed(t, mv)).await.map(|_| ()), "moving their deal");
        let get = authed(
            t,
            cpb::GetContactRequest {
                id: their_contact.id.clone(),
            },
        );
        hidden(contacts.get_contact(get).await.map(|_| ()), "their contact");
        let get = authed(
            t,
            tpb::GetTaskRequest {
                id: their_task.id.clone(),
            },
        );
        hidden(tasks.get_task(get).await.map(|_| ()), "their task");
        // Their numbers are their own: one open deal in the funnel.
        let funnel = analytics.get_funnel(funnel_of(t)).await.unwrap().into_inner();
        assert_eq!(
            funnel.stages.iter().map(|s| s.current_count).sum::<i64>(),
            1,
            "{who}'s funnel"
        );
    }
    // A viewer owns nothing, so sees nothing; the manager sees everything.
    assert!(
        pipeline
            .list_deals(deals_of(&vic))
            .await
            .unwrap()
            .into_inner()
            .deals
            .is_empty()
    );
    assert_eq!(
        pipeline
            .list_deals(deals_of(&max))
            .await
            .unwrap()
            .into_inner()
            .deals
            .len(),
        2
    );
    assert!(pipeline.get_deal(get_bob_deal(&max)).await.is_ok());
    let get = authed(
        &max,
        cpb::GetContactRequest {
            id: bob_contact.id.clone(),
        },
    );
    assert!(contacts.get_contact(get).await.is_ok());
    let get = authed(
        &max,
        tpb::GetTaskRequest {
            id: bob_task.id.clone(),
        },
    );
    assert!(tasks.get_task(get).await.is_ok());
    let funnel = analytics.get_funnel(funnel_of(&max)).await.unwrap().into_inner();
    assert_eq!(funnel.stages.iter().map(|s| s.current_count).sum::<i64>(), 2);

    // Back to TEAM: raj reads bob's deal again.
    let req = pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings {
            visibility: Visibility::Team as i32,
            etag: "v1".into(),
            ..Default::default()
        }),
    };
    pipeline.update_tenant_settings(authed(&admin, req)).await.unwrap();
    assert!(pipeline.get_deal(get_bob_deal(&raj)).await.is_ok());
}
