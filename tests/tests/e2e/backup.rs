//! `crm backup` under writes, `crm restore` into a fresh data directory,
//! and the suite started on it: every deal acknowledged before the backup
//! began is there, each deal that entered Proposal has exactly one
//! follow-up task (its event was neither lost nor applied twice), and the
//! analytics projection holds each deal once.

use std::{path::Path, time::Duration};

use crm_kit::testing::{Backend, TestBroker, TestDatabase, authed, token};
use crm_proto::{
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as t, tasks_service_client::TasksServiceClient},
};
use sea_orm::{ConnectionTrait, Statement};
use tokio::{net::TcpListener, sync::oneshot};

use super::{
    distributed::serve,
    harness::{create_deal, move_to, proposal_rule, sales_pipeline, wait_serving},
};

/// `crm up` on `data`, as the binary starts it; its URL, stopped when the
/// sender is dropped.
async fn up_on(data: &Path) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let file = |s: &str| format!("sqlite://{}", data.join(format!("{s}.db")).display());
    let config = crm::SuiteConfig {
        contacts_db: file("contacts"),
        pipeline_db: file("pipeline"),
        tasks_db: file("tasks"),
        analytics_db: file("analytics"),
        auth: crm_kit::testing::auth_config(),
        limits: crm_gateway::limits::LimitConfig::default(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = crm::run_suite(listener, config, async {
            let _ = stopped.await;
        })
        .await;
        let _ = done_tx.send(());
    });
    wait_serving(&url).await;
    // Dropping the sender stops the suite; the files are closed once it ended.
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = stop_rx.await;
        let _ = stop.send(());
        let _ = done.await;
    });
    (url, stop_tx)
}

async fn count(url: &str, sql: &str) -> i64 {
    let conn = sea_orm::Database::connect(url).await.unwrap();
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    let n = row.try_get_by_index::<i64>(0).unwrap();
    conn.close().await.unwrap();
    n
}

/// The URL of the SQLite file of `service` in `data`, read-only.
fn file(data: &Path, service: &str) -> String {
    format!("sqlite://{}?mode=ro", data.join(format!("{service}.db")).display())
}

/// Deals created and moved into Proposal one after another until halted,
/// each with the time its move was acknowledged.
fn spawn_writer(
    pipeline: &PipelineServiceClient<tonic::transport::Channel>,
    tok: &str,
    p: &pb::Pipeline,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Vec<(String, i64)>>,
) {
    let (halt, halted) = tokio::sync::watch::channel(false);
    let (mut pipeline, tok, p) = (pipeline.clone(), tok.to_owned(), p.clone());
    let writer = tokio::spawn(async move {
        let mut acked = Vec::new();
        for n in 0.. {
            if *halted.borrow() {
                break;
            }
            let deal = pb::Deal {
                pipeline_id: p.id.clone(),
                title: format!("Deal {n}"),
                ..Default::default()
            };
            let d = create_deal(&mut pipeline, &tok, deal).await;
            move_to(&mut pipeline, &tok, &d.id, &p.stages[1].id).await;
            acked.push((d.id, crm_kit::time::now_micros()));
        }
        acked
    });
    (halt, writer)
}

/// What a restored suite must show: every deal acknowledged before
/// `started_at` is there; each deal that entered Proposal has exactly one
/// task; analytics holds each deal once. `pipeline_db` and `analytics_db`
/// are the restored databases.
async fn check_restored(urls: (&str, &str), acked: &[(String, i64)], started_at: i64, dbs: (&str, &str)) {
    let ((pipeline_url, tasks_url), (pipeline_db, analytics_db)) = (urls, dbs);
    let tok = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(wait_serving(pipeline_url).await);
    let before: Vec<_> = acked.iter().filter(|(_, at)| *at < started_at).collect();
    assert!(
        before.len() >= 5,
        "deals acknowledged before the backup: {}",
        before.len()
    );
    for (id, _) in &before {
        let got = pipeline
            .get_deal(authed(&tok, pb::GetDealRequest { id: id.clone() }))
            .await;
        assert!(
            got.is_ok(),
            "deal {id}, acknowledged before the backup began, is restored"
        );
    }
    let moved = count(
        pipeline_db,
        "SELECT COUNT(DISTINCT deal_id) FROM deal_transitions WHERE from_stage_id IS NOT NULL",
    )
    .await;
    let mut tasks = TasksServiceClient::new(wait_serving(tasks_url).await);
    let mut seen = 0;
    for _ in 0..300 {
        let req = t::ListTasksRequest {
            page_size: 500,
            ..Default::default()
        };
        let all = tasks.list_tasks(authed(&tok, req)).await.unwrap().into_inner().tasks;
        seen = all.len() as i64;
        if seen >= moved {
            let mut per_deal = std::collections::HashMap::<String, usize>::new();
            for task in &all {
                *per_deal.entry(task.deal_id.clone()).or_default() += 1;
            }
            assert!(per_deal.values().all(|n| *n == 1), "one task per deal: {per_deal:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, moved, "each deal that entered Proposal has its task");
    for _ in 0..300 {
        let stored = count(pipeline_db, "SELECT COUNT(*) FROM deals").await;
        let projected = count(analytics_db, "SELECT COUNT(*) FROM analytics_deals").await;
        if projected == stored {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("analytics does not hold each restored deal once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_with_nothing_lost_or_doubled() {
    let (first, second, copy) = (tempfile(), tempfile(), tempfile());
    let (url, stop) = up_on(first.path()).await;
    let tok = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(wait_serving(&url).await);
    let mut tasks = TasksServiceClient::new(wait_serving(&url).await);
    let p = sales_pipeline(&mut pipeline, &tok).await;
    proposal_rule(&mut tasks, &tok, &p.id, &p.stages[1].id).await;
    let (halt, writer) = spawn_writer(&pipeline, &tok, &p);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Half a second between files: events are published after the
    // consumers' copies and before the producers', and must not be lost.
    let manifest = crm::backup::backup(first.path(), copy.path(), Duration::from_millis(500))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = halt.send(true);
    let acked = writer.await.unwrap();
    drop(stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = crm::backup::restore(copy.path(), second.path()).await.unwrap();
    let republished: u64 = again.iter().map(|(_, n)| n).sum();
    assert!(
        republished > 0,
        "events published during the backup are published again: {again:?}"
    );
    let (url, _stop) = up_on(second.path()).await;
    let (pipeline_db, analytics_db) = (file(second.path(), "pipeline"), file(second.path(), "analytics"));
    check_restored((&url, &url), &acked, manifest.started_at, (&pipeline_db, &analytics_db)).await;
}

/// The four services as `crm serve` runs them, on `dbs` (in
/// [`crm::backup::ORDER`]) and `broker`; their URLs and stop handles.
async fn serve_all(dbs: &[TestDatabase], broker: &TestBroker) -> (String, String, Vec<oneshot::Sender<()>>) {
    use crm::ServiceName::{Analytics, Contacts, Pipeline, Tasks};
    for consumer in [
        crm_tasks::automation::CONSUMER,
        crm_contacts::CONSUMER,
        crm_analytics::projection::CONSUMER,
    ] {
        drop(broker.consumer(consumer, &[]));
    }
    let config = |db: &TestDatabase, contacts_url: &str, pipeline_url: &str| crm::ServiceConfig {
        contacts_url: contacts_url.to_owned(),
        pipeline_url: pipeline_url.to_owned(),
        amqp: Some(broker.config.clone()),
        ..crm::ServiceConfig::new(&db.url, crm_kit::testing::auth_config())
    };
    let [analytics, tasks, contacts, pipeline] = dbs else {
        panic!("four databases, in ORDER");
    };
    let (contacts_url, c) = serve(Contacts, config(contacts, "", "")).await;
    let (pipeline_url, p) = serve(Pipeline, config(pipeline, &contacts_url, "")).await;
    let (tasks_url, t) = serve(Tasks, config(tasks, &contacts_url, &pipeline_url)).await;
    let (_, a) = serve(Analytics, config(analytics, "", &pipeline_url)).await;
    (pipeline_url, tasks_url, vec![c, p, t, a])
}

async fn pg(program: &str, args: &[&str]) {
    let (p, a): (String, Vec<String>) = (program.to_owned(), args.iter().map(|s| (*s).to_owned()).collect());
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(p).args(a).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The same, on PostgreSQL: `pg_dump` of each service database in
/// [`crm::backup::ORDER`] under writes, `pg_restore` into fresh databases,
/// `crm republish` on the producers, and `crm serve` on what was restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_taken_under_writes_restores_with_nothing_lost_or_doubled() {
    let Some(broker) = crate::harness::suite_broker("backup_pg") else {
        return;
    };
    let mut dbs = Vec::new();
    for service in crm::backup::ORDER {
        let Some(db) = TestDatabase::create(Backend::Postgres, &format!("backup_pg_{service}")).await else {
            return;
        };
        dbs.push(db);
    }
    let (pipeline_url, tasks_url, stops) = serve_all(&dbs, &broker).await;
    let tok = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(wait_serving(&pipeline_url).await);
    let mut tasks = TasksServiceClient::new(wait_serving(&tasks_url).await);
    let p = sales_pipeline(&mut pipeline, &tok).await;
    proposal_rule(&mut tasks, &tok, &p.id, &p.stages[1].id).await;
    let (halt, writer) = spawn_writer(&pipeline, &tok, &p);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copy = tempfile();
    let started_at = crm_kit::time::now_micros();
    for (db, service) in dbs.iter().zip(crm::backup::ORDER) {
        let dump = copy.path().join(format!("{service}.dump")).display().to_string();
        pg("pg_dump", &["--format=custom", "--file", &dump, "--dbname", &db.url]).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = halt.send(true);
    let acked = writer.await.unwrap();
    drop(stops);
    let fresh_broker = crate::harness::suite_broker("backup_pg_restored").unwrap();
    let mut restored = Vec::new();
    for service in crm::backup::ORDER {
        let db = TestDatabase::create(Backend::Postgres, &format!("backup_pg_{service}_restored"))
            .await
            .unwrap();
        let dump = copy.path().join(format!("{service}.dump")).display().to_string();
        pg("pg_restore", &["--no-owner", "--dbname", &db.url, &dump]).await;
        restored.push(db);
    }
    // Events confirmed before the dumps began may still have sat in a
    // queue: republish from a minute before (consumers skip the applied).
    let mut republished = 0;
    for (db, service) in restored.iter().zip(crm::backup::ORDER) {
        if service != "analytics" {
            let conn = crm_kit::db::connect(&db.url).await.unwrap();
            republished += crm::backup::republish(&conn, started_at - 60_000_000).await.unwrap();
            conn.close().await.unwrap();
        }
    }
    assert!(republished > 0, "the producers publish again");
    let (pipeline_url, tasks_url, _stops) = serve_all(&restored, &fresh_broker).await;
    let urls = (pipeline_url.as_str(), tasks_url.as_str());
    check_restored(urls, &acked, started_at, (&restored[3].url, &restored[0].url)).await;
}

fn tempfile() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
