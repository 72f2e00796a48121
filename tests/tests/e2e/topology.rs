//! Faults in the distributed shape that `deploy/topology/topology` starts
//! (a container per replica, two replicas of pipeline and of tasks, the
//! gateway in front): replicas are killed and stopped while work goes on,
//! and nothing acknowledged is lost or done twice.
//!
//! These need that topology, so `.ci/run` runs them in its topology step
//! (`CRM_TOPOLOGY_GATEWAY` and `CRM_TOPOLOGY_CTL` set); the workspace run
//! announces that it skipped them.

use std::{io::Write, process::Command, time::Duration};

use crm_kit::testing::{authed, token};
use crm_proto::{
    analytics::v1::analytics_service_client::AnalyticsServiceClient,
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as t, tasks_service_client::TasksServiceClient},
};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use super::harness::{all_tasks, numbered_deals, proposal_rule, sales_pipeline, spawn_mover, wait_serving};

/// The running topology, from the environment `topology up` wrote.
struct Topology {
    gateway: Channel,
    ctl: String,
}

impl Topology {
    async fn from_env(test: &str) -> Option<Self> {
        let (Ok(gateway), Ok(ctl)) = (std::env::var("CRM_TOPOLOGY_GATEWAY"), std::env::var("CRM_TOPOLOGY_CTL")) else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (topology): {test}: it kills and stops replicas of a running topology, so .ci/run runs it in its topology step"
            );
            return None;
        };
        super::harness::own_tenants(test);
        Some(Self {
            gateway: wait_serving(&gateway).await,
            ctl,
        })
    }

    /// The address of one replica, e.g. `pipeline-2`.
    fn url(name: &str) -> String {
        let var = format!("CRM_TOPOLOGY_URL_{}", name.to_uppercase().replace('-', "_"));
        std::env::var(&var).unwrap_or_else(|_| panic!("{var} is set by topology up"))
    }

    /// `kill` (SIGKILL), `term` (SIGTERM, waiting for the exit) or `start` a replica.
    async fn ctl(&self, action: &'static str, name: &'static str) {
        let mut args = self.ctl.split_whitespace().map(str::to_owned);
        let program = args.next().expect("CRM_TOPOLOGY_CTL names a program");
        let mut args: Vec<String> = args.collect();
        args.extend([action.to_owned(), name.to_owned()]);
        let status = tokio::task::spawn_blocking(move || Command::new(program).args(args).status())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "topology ctl {action} {name}");
        let _ = writeln!(std::io::stderr(), "topology: {action} {name}");
    }
}

/// Both tasks replicas go down while deals move into a stage with a rule,
/// one with SIGKILL (its unacknowledged events come back to the queue) and
/// one with SIGTERM (it finishes and acks what it holds), and come back:
/// every rule fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_fires_once_while_the_tasks_replicas_are_killed_and_stopped() {
    let Some(topology) = Topology::from_env("topology_rules").await else {
        return;
    };
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(topology.gateway.clone());
    let mut tasks = TasksServiceClient::new(topology.gateway.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;
    proposal_rule(&mut tasks, &admin, &p.id, &p.stages[1].id).await;

    const DEALS: usize = 60;
    let deals = numbered_deals(&mut pipeline, &admin, &p, DEALS).await;
    // The pipeline does not wait for tasks: every move is acknowledged.
    let (mover, mut moved) = spawn_mover(&pipeline, &admin, &deals, &p.stages[1].id, Duration::from_millis(40));
    moved.wait_for(|n| *n >= 10).await.unwrap();
    topology.ctl("kill", "tasks-1").await;
    moved.wait_for(|n| *n >= 25).await.unwrap();
    topology.ctl("term", "tasks-2").await;
    let while_down = all_tasks_or_none(&mut tasks, &admin).await;
    mover.await.unwrap();
    topology.ctl("start", "tasks-1").await;
    topology.ctl("start", "tasks-2").await;

    // Until the replicas are back in the gateway's rotation a call may be
    // UNAVAILABLE, which a client retries.
    for _ in 0..600 {
        if all_tasks(&mut tasks, &admin).await.is_ok_and(|all| all.len() >= DEALS) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Room for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = all_tasks(&mut tasks, &admin).await.unwrap();
    let per_deal: Vec<usize> = deals
        .iter()
        .map(|d| all.iter().filter(|task| &task.deal_id == d).count())
        .collect();
    let _ = writeln!(
        std::io::stderr(),
        "topology (rules): {DEALS} deals moved; tasks-1 SIGKILLed after 10 moves, tasks-2 SIGTERMed after 25; \
         ListTasks while both were down: {while_down}; {} tasks after, {} deals with exactly one",
        all.len(),
        per_deal.iter().filter(|n| **n == 1).count()
    );
    assert_eq!(per_deal, vec![1; DEALS], "every deal got exactly one task");
}

/// What ListTasks answers with every tasks replica down: UNAVAILABLE, not a hang.
async fn all_tasks_or_none(tasks: &mut TasksServiceClient<Channel>, token: &str) -> String {
    let req = t::ListTasksRequest::default();
    match tokio::time::timeout(Duration::from_secs(10), tasks.list_tasks(authed(token, req))).await {
        Ok(Ok(r)) => format!("{} tasks", r.into_inner().tasks.len()),
        Ok(Err(status)) => format!("{:?}", status.code()),
        Err(_) => "no answer in 10 s".into(),
    }
}

/// A pipeline replica stopped with SIGTERM reports NOT_SERVING first,
/// finishes the import streaming into it, and loses nothing: every deal
/// acknowledged (through the gateway, while the other replica takes over)
/// exists afterwards, and every one of their events reaches analytics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_with_sigterm_finishes_its_calls_and_loses_nothing() {
    let Some(topology) = Topology::from_env("topology_sigterm").await else {
        return;
    };
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(topology.gateway.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;

    // pipeline-2, directly: its health, and an import streaming into it.
    let direct = wait_serving(&Topology::url("pipeline-2")).await;
    let mut health = HealthClient::new(direct.clone())
        .watch(HealthCheckRequest {
            service: "crm.pipeline.v1.PipelineService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(s)) = health.message().await {
            seen.push(ServingStatus::try_from(s.status).unwrap_or(ServingStatus::Unknown));
        }
        seen
    });
    const IMPORTED: usize = 150;
    let import = {
        let (mut client, admin, pipeline_id, lead) = (
            PipelineServiceClient::new(direct),
            admin.clone(),
            p.id.clone(),
            p.stages[0].id.clone(),
        );
        // One row every 20 ms: the call is still streaming at SIGTERM.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            for i in 0..IMPORTED {
                let row = pb::ImportDealsRequest {
                    pipeline_id: pipeline_id.clone(),
                    title: format!("Imported {i}"),
                    history: vec![pb::HistoryEntry {
                        stage_id: lead.clone(),
                        entered_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
                    }],
                    ..Default::default()
                };
                if tx.send(row).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let rows = tokio_stream::wrappers::ReceiverStream::new(rx);
        tokio::spawn(async move { client.import_deals(authed(&admin, rows)).await })
    };

    // Two callers creating deals through the gateway all along.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let callers: Vec<_> = (0..2)
        .map(|c| {
            let (mut pipeline, admin, p, stop) = (pipeline.clone(), admin.clone(), p.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (Vec::new(), Vec::new());
                let mut i = 0;
                while !*stop.borrow() {
                    let deal = pb::Deal {
                        pipeline_id: p.id.clone(),
                        title: format!("Caller {c} deal {i}"),
                        ..Default::default()
                    };
                    let req = pb::CreateDealRequest {
                        deal: Some(deal),
                        request_id: String::new(),
                    };
                    match pipeline.create_deal(authed(&admin, req)).await {
                        Ok(r) => ok.push(r.into_inner().deal.unwrap().id),
                        Err(status) => failed.push(status.code()),
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (ok, failed)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    topology.ctl("term", "pipeline-2").await;
    let imported = import
        .await
        .unwrap()
        .expect("the import in flight at SIGTERM finishes")
        .into_inner();
    let seen = watcher.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for caller in callers {
        let (o, f) = caller.await.unwrap();
        ok.extend(o);
        failed.extend(f);
    }
    topology.ctl("start", "pipeline-2").await;

    assert_eq!(
        seen.last(),
        Some(&ServingStatus::NotServing),
        "pipeline-2 reported NOT_SERVING before it went away (saw {seen:?})"
    );
    assert_eq!(
        (imported.imported, imported.rejected),
        (IMPORTED as i64, 0),
        "{imported:?}"
    );
    assert!(
        failed.iter().all(|c| *c == Code::Unavailable),
        "a refused call is UNAVAILABLE, to be retried: {failed:?}"
    );
    for id in &ok {
        pipeline
            .get_deal(authed(&admin, pb::GetDealRequest { id: id.clone() }))
            .await
            .unwrap_or_else(|s| panic!("acknowledged deal {id} is there: {s:?}"));
    }
    // Every deal's creation event reached analytics: nothing stayed behind
    // in the stopped replica's outbox or in flight.
    let expected = (ok.len() + IMPORTED) as i64;
    let mut analytics = AnalyticsServiceClient::new(topology.gateway.clone());
    let mut entered = -1;
    for _ in 0..300 {
        entered = lead_entered(&mut analytics, &admin, &p.id).await;
        if entered == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = writeln!(
        std::io::stderr(),
        "topology (SIGTERM): pipeline-2 health {seen:?}; import in flight: {} of {IMPORTED}; \
         {} deals created through the gateway, {} calls refused ({failed:?}); analytics counts {entered} of {expected}",
        imported.imported,
        ok.len(),
        failed.len()
    );
    assert_eq!(entered, expected, "analytics saw every acknowledged deal");
}

/// How many deals entered the first stage, as analytics counts them (-1
/// while it cannot say).
async fn lead_entered(analytics: &mut AnalyticsServiceClient<Channel>, token: &str, pipeline_id: &str) -> i64 {
    match super::analytics::funnel(analytics, token, pipeline_id).await {
        Some(f) => f.stages.first().map_or(0, |s| s.entered),
        None => -1,
    }
}
