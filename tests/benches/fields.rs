//! The custom-field filter benchmark (not a timed test): PipelineService
//! alone on its own PostgreSQL database, `CRM_BENCH_DEALS` deals (default
//! 1,000,000) of one tenant written straight into `deals` with a select
//! field `lead_source` (web 40%, referral 30%, event 20%, outbound 9%,
//! partner 0.95%, vip 0.05%), a text field `region` and a text field `ref`
//! unique to each deal (so no two deals store the same JSON, as in real
//! data, and PostgreSQL's statistics cannot list every whole value). It
//! prints, per option, p50/p95
//! of ListDeals (a page of 50) with the equality filter over
//! `CRM_BENCH_CALLS` calls (default 200), and PostgreSQL's plan of that
//! query (EXPLAIN ANALYZE) for the rarest and the most common option.
//!
//! Run: `cargo bench -p crm-e2e --bench fields` with CRM_TEST_DATABASE_URL set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crm_kit::testing::{Backend, TestDatabase, TestServer, authed, shared, token};
use crm_proto::{
    common::v1::{self as cv1, FieldType, field_value::Kind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use sea_orm::{ConnectionTrait, Statement};

mod common;

use common::{block_on, create_pipeline, env_or, quantile_ms};

/// The options and their shares in basis points (1/100 of a percent).
const OPTIONS: [(&str, u32); 6] = [
    ("web", 4_000),
    ("referral", 3_000),
    ("event", 2_000),
    ("outbound", 900),
    ("partner", 95),
    ("vip", 5),
];

fn main() {
    block_on(run());
}

async fn run() {
    let deals: u64 = env_or("CRM_BENCH_DEALS", 1_000_000);
    let calls: usize = env_or("CRM_BENCH_CALLS", 200);
    let db = TestDatabase::create(Backend::Postgres, "bench_fields")
        .await
        .expect("set CRM_TEST_DATABASE_URL to a PostgreSQL server");
    let conn = crm_kit::db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&db.url)
        .await
        .unwrap();
    let config = crm_pipeline::startup::Config::new("http://127.0.0.1:9");
    let service = crm_pipeline::startup::build(conn.clone(), shared(), config).unwrap();
    let (server, _) = TestServer::start_service(service).await;
    let t = token("bench", "ann", &["admin"]);
    let channel = server.channel().await;
    let pipeline = create_pipeline(channel.clone(), &t, "Sales", &["Lead", "Demo"]).await;
    let mut client = PipelineServiceClient::new(channel);
    let options = OPTIONS
        .iter()
        .map(|(id, _)| cv1::FieldOption {
            id: (*id).into(),
            label: id.to_uppercase(),
        })
        .collect();
    for d in [
        cv1::FieldDefinition {
            key: "lead_source".into(),
            label: "Lead source".into(),
            r#type: FieldType::SingleSelect as i32,
            options,
            ..Default::default()
        },
        cv1::FieldDefinition {
            key: "region".into(),
            label: "Region".into(),
            r#type: FieldType::Text as i32,
            ..Default::default()
        },
    ] {
        let req = pb::CreateFieldDefinitionRequest {
            definition: Some(d),
            request_id: String::new(),
        };
        client.create_field_definition(authed(&t, req)).await.unwrap();
    }

    let started = Instant::now();
    let stage = &pipeline.stages[0].id;
    // Option i of 100 buckets by the weights above; ids sort in time order like UUIDv7s.
    let sql = format!(
        "INSERT INTO deals (id, tenant_id, pipeline_id, stage_id, status, title, amount_minor, currency, contact_id, company_id, \
         owner_id, expected_close_date, lost_reason, stage_entered_at, closed_at, created_at, updated_at, version, custom_fields) \
         SELECT lpad(to_hex(n), 8, '0') || '-0000-7000-8000-000000000000', 'bench', '{p}', '{stage}', 'open', 'Deal ' || n, \
         (n % 1000) * 100, 'EUR', NULL, NULL, 'ann', NULL, NULL, 0, NULL, 0, 0, 1, \
         jsonb_build_object('lead_source', CASE WHEN n % 10000 < 4000 THEN 'web' WHEN n % 10000 < 7000 THEN 'referral' \
           WHEN n % 10000 < 9000 THEN 'event' WHEN n % 10000 < 9900 THEN 'outbound' WHEN n % 10000 < 9995 THEN 'partner' \
           ELSE 'vip' END, 'region', (ARRAY['emea', 'apac', 'amer'])[1 + n % 3], 'ref', 'R' || n) \
         FROM generate_series(1, {deals}) AS n",
        p = pipeline.id
    );
    conn.execute_unprepared(&sql).await.unwrap();
    conn.execute_unprepared("ANALYZE deals").await.unwrap();
    println!("{deals} deals written in {:.1} s", started.elapsed().as_secs_f64());

    let mut all = Vec::new();
    for (option, share) in OPTIONS {
        let mut times = Vec::with_capacity(calls);
        let mut after = String::new();
        for _ in 0..calls {
            let req = pb::ListDealsRequest {
                page_size: 50,
                page_token: std::mem::take(&mut after),
                field_filters: vec![cv1::FieldFilter {
                    key: "lead_source".into(),
                    equals: Some(cv1::FieldValue {
                        kind: Some(Kind::Option(option.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let began = Instant::now();
            let reply = client.list_deals(authed(&t, req)).await.unwrap().into_inner();
            times.push(began.elapsed());
            assert!(reply.deals.iter().all(|d| {
                d.custom_fields
                    .get("lead_source")
                    .is_some_and(|v| v.kind == Some(Kind::Option(option.into())))
            }));
            assert!(!reply.deals.is_empty(), "a page of {option}");
            after = reply.next_page_token;
        }
        times.sort();
        println!(
            "ListDeals lead_source = {option:<9} ({:>5.2}% of deals), {calls} pages of 50 walked in order: p50 {:.2} ms, p95 {:.2} ms",
            f64::from(share) / 100.0,
            quantile_ms(&times, 0.5),
            quantile_ms(&times, 0.95)
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "all options: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        quantile_ms(&all, 0.5),
        quantile_ms(&all, 0.95),
        quantile_ms(&all, 1.0)
    );
    for option in ["vip", "partner", "web"] {
        let explain = format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM deals WHERE tenant_id = 'bench' \
             AND custom_fields @> '{{\"lead_source\": \"{option}\"}}' ORDER BY id LIMIT 51"
        );
        let rows = conn
            .query_all_raw(Statement::from_string(conn.get_database_backend(), explain))
            .await
            .unwrap();
        println!("plan for lead_source = {option}:");
        for row in rows {
            let line: String = row.try_get_by_index(0).unwrap();
            println!("  {line}");
        }
    }
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;
}
