//! Starting the suite for a test: `crm up` as the binary runs it (one
//! port, in-process bus), or one process-like server per service on
//! RabbitMQ; and helpers every test uses.

use crm::SuiteConfig;
use crm_kit::testing::{Backend, TestDatabase, authed};
use crm_proto::{
    common::v1::StageKind,
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A running suite; stopped when dropped.
pub struct Running {
    /// A channel to the suite's one port.
    pub channel: Channel,
    /// The suite's address.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    /// The contacts, pipeline, tasks and analytics databases; `None` on a
    /// shared topology, whose databases are not the test's own.
    pub dbs: Option<(TestDatabase, TestDatabase, TestDatabase, TestDatabase)>,
}

impl Running {
    /// Whether the suite runs in this process (so its metrics are this
    /// process's registry), not on a shared topology.
    pub fn in_process(&self) -> bool {
        self.stop.is_some()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `crm up` on a random port with fresh databases, or `None` when the
/// PostgreSQL half is skipped.
///
/// With `CRM_TOPOLOGY_GATEWAY` set (`.ci/run`'s topology step), the
/// PostgreSQL variant of each test runs against that gateway instead: the
/// distributed shape (a container per replica) in place of `crm up`, each
/// test in tenants of its own. The SQLite variants have nothing to add there.
pub async fn up(backend: Backend, test: &str) -> Option<Running> {
    up_with(backend, test, crm_gateway::limits::LimitConfig::default()).await
}

/// [`up`], with the gateway's `limits`.
pub async fn up_with(backend: Backend, test: &str, limits: crm_gateway::limits::LimitConfig) -> Option<Running> {
    if let Ok(gateway) = std::env::var("CRM_TOPOLOGY_GATEWAY") {
        if backend == Backend::Sqlite {
            return None;
        }
        own_tenants(test);
        return Some(Running {
            channel: wait_serving(&gateway).await,
            url: gateway,
            stop: None,
            dbs: None,
        });
    }
    let contacts_db = TestDatabase::create(backend, test).await?;
    let pipeline_db = TestDatabase::create(backend, test).await?;
    let tasks_db = TestDatabase::create(backend, test).await?;
    let analytics_db = TestDatabase::create(backend, test).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = crm::local_url(listener.local_addr().expect("addr"));
    let config = SuiteConfig {
        contacts_db: contacts_db.url.clone(),
        pipeline_db: pipeline_db.url.clone(),
        tasks_db: tasks_db.url.clone(),
        analytics_db: analytics_db.url.clone(),
        auth: crm_kit::testing::auth_config(),
        limits,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crm::run_suite(listener, config, async {
        let _ = stopped.await;
    }));
    let channel = wait_serving(&url).await;
    Some(Running {
        channel,
        url,
        stop: Some(stop),
        dbs: Some((contacts_db, pipeline_db, tasks_db, analytics_db)),
    })
}

/// Makes the tenants `test` names in its tokens its own on a shared
/// topology: `acme` becomes `acme-<test>-<now>`.
pub fn own_tenants(test: &str) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crm_kit::testing::own_tenants(&format!("{test}-{nanos:x}"));
}

/// `crm up` on SQLite, or the topology's gateway when there is one (see [`up`]).
pub async fn up_anywhere(test: &str) -> Running {
    let backend = if std::env::var("CRM_TOPOLOGY_GATEWAY").is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    up(backend, test).await.expect("SQLite always runs")
}

/// Waits until the server at `url` answers its health check.
pub async fn wait_serving(url: &str) -> Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned()).expect("url");
    let mut channel = None;
    for _ in 0..100 {
        // The suite migrates before it serves; wait for it to answer.
        if let Ok(c) = endpoint.connect().await {
            let mut health = HealthClient::new(c.clone());
            if health
                .check(HealthCheckRequest { service: String::new() })
                .await
                .is_ok()
            {
                channel = Some(c);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    channel.expect("the server answers")
}

/// Creates the Lead (10%) / Proposal (60%) / Won / Lost pipeline of the README's tour.
pub async fn sales_pipeline(client: &mut PipelineServiceClient<Channel>, token: &str) -> pb::Pipeline {
    let stage = |name: &str, kind: StageKind, probability| pb::Stage {
        name: name.into(),
        kind: kind as i32,
        probability,
        ..Default::default()
    };
    let stages = vec![
        stage("Lead", StageKind::Open, 10),
        stage("Proposal", StageKind::Open, 60),
        stage("Won", StageKind::Won, 100),
        stage("Lost", StageKind::Lost, 0),
    ];
    let pipeline = pb::Pipeline {
        name: "Sales".into(),
        stages,
        ..Default::default()
    };
    let req = pb::CreatePipelineRequest {
        pipeline: Some(pipeline),
        request_id: String::new(),
    };
    client
        .create_pipeline(authed(token, req))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap()
}

/// A rule: when a deal enters `stage_id`, its owner gets "Send the proposal
/// for {deal.title}" due in a day.
pub async fn proposal_rule(
    tasks: &mut crm_proto::tasks::v1::tasks_service_client::TasksServiceClient<Channel>,
    token: &str,
    pipeline_id: &str,
    stage_id: &str,
) -> crm_proto::tasks::v1::Rule {
    use crm_proto::tasks::v1 as t;
    let rule = t::Rule {
        name: "Proposal follow-up".into(),
        enabled: true,
        trigger: Some(t::Trigger {
            kind: Some(t::trigger::Kind::DealEnteredStage(t::DealEnteredStage {
                pipeline_id: pipeline_id.into(),
                stage_id: stage_id.into(),
            })),
        }),
        action: Some(t::Action {
            kind: Some(t::action::Kind::CreateTask(t::CreateTaskAction {
                title_template: "Send the proposal for {deal.title}".into(),
                due_in: Some(prost_types::Duration {
                    seconds: 86_400,
                    nanos: 0,
                }),
                assignee: Some(t::create_task_action::Assignee::DealOwner(true)),
                priority: t::TaskPriority::High as i32,
                remind_before: vec![prost_types::Duration {
                    seconds: 3_600,
                    nanos: 0,
                }],
            })),
        }),
        ..Default::default()
    };
    let req = t::CreateRuleRequest {
        rule: Some(rule),
        request_id: String::new(),
    };
    tasks
        .create_rule(authed(token, req))
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap()
}

/// The tasks about `deal_id`, once there are at least `n` (waits up to 30 s).
pub async fn wait_tasks(
    tasks: &mut crm_proto::tasks::v1::tasks_service_client::TasksServiceClient<Channel>,
    token: &str,
    deal_id: &str,
    n: usize,
) -> Vec<crm_proto::tasks::v1::Task> {
    use crm_proto::tasks::v1 as t;
    let mut found = Vec::new();
    for _ in 0..300 {
        let req = t::ListTasksRequest {
            deal_id: deal_id.into(),
            ..Default::default()
        };
        found = tasks.list_tasks(authed(token, req)).await.unwrap().into_inner().tasks;
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    found
}

/// Creates `deal` as `token`; the deal as created.
pub async fn create_deal(pipeline: &mut PipelineServiceClient<Channel>, token: &str, deal: pb::Deal) -> pb::Deal {
    let req = pb::CreateDealRequest {
        deal: Some(deal),
        request_id: String::new(),
    };
    pipeline
        .create_deal(authed(token, req))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap()
}

/// Creates deals "Deal 0" .. "Deal {n-1}" in the first stage of `p`; their ids.
pub async fn numbered_deals(
    pipeline: &mut PipelineServiceClient<Channel>,
    token: &str,
    p: &pb::Pipeline,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let deal = pb::Deal {
            pipeline_id: p.id.clone(),
            title: format!("Deal {i}"),
            ..Default::default()
        };
        ids.push(create_deal(pipeline, token, deal).await.id);
    }
    ids
}

/// Every task of the caller's tenant (up to 500).
pub async fn all_tasks(
    tasks: &mut crm_proto::tasks::v1::tasks_service_client::TasksServiceClient<Channel>,
    token: &str,
) -> Result<Vec<crm_proto::tasks::v1::Task>, tonic::Status> {
    let req = crm_proto::tasks::v1::ListTasksRequest {
        page_size: 500,
        ..Default::default()
    };
    Ok(tasks.list_tasks(authed(token, req)).await?.into_inner().tasks)
}

/// Moves deal `deal_id` into stage `stage_id` (without an etag), as `token`.
pub async fn move_to(pipeline: &mut PipelineServiceClient<Channel>, token: &str, deal_id: &str, stage_id: &str) {
    let mv = pb::MoveDealRequest {
        deal_id: deal_id.into(),
        stage_id: stage_id.into(),
        etag: String::new(),
        lost_reason: String::new(),
    };
    pipeline.move_deal(authed(token, mv)).await.unwrap();
}

/// Moves each of `deals` into `stage_id` in the background, one every
/// `every`; the receiver counts the moves done. Every move must succeed.
pub fn spawn_mover(
    pipeline: &PipelineServiceClient<Channel>,
    token: &str,
    deals: &[String],
    stage_id: &str,
    every: std::time::Duration,
) -> (tokio::task::JoinHandle<()>, tokio::sync::watch::Receiver<usize>) {
    let (moved_tx, moved) = tokio::sync::watch::channel(0usize);
    let (mut pipeline, token, deals, stage_id) =
        (pipeline.clone(), token.to_owned(), deals.to_vec(), stage_id.to_owned());
    let mover = tokio::spawn(async move {
        for (i, id) in deals.iter().enumerate() {
            move_to(&mut pipeline, &token, id, &stage_id).await;
            let _ = moved_tx.send(i + 1);
            tokio::time::sleep(every).await;
        }
    });
    (mover, moved)
}

/// A RabbitMQ namespace for a test that runs the suite's services: every
/// consumer's queue is declared by whichever service starts first, so all
/// of them are deleted with it. `None` when the RabbitMQ half is skipped.
pub fn suite_broker(test: &str) -> Option<crm_kit::testing::TestBroker> {
    let broker = crm_kit::testing::TestBroker::create(test)?;
    broker.will_hold(&[
        crm_contacts::CONSUMER,
        crm_tasks::automation::CONSUMER,
        crm_analytics::projection::CONSUMER,
    ]);
    Some(broker)
}
