//! `crm bench` against a fresh `crm up` (limits raised, as the README's
//! bench command does): every call runs and answers OK, moves and updates
//! keep their etags (no ABORTED), and on PostgreSQL the pgbench beside
//! them runs the same SQL on the pipeline's own tables and leaves nothing
//! behind. A short run: the figures themselves come from the documented
//! command, not from a test.

use std::time::Duration;

use crm_kit::testing::{Backend, TEST_SECRET_TEXT};
use sea_orm::{ConnectionTrait, Database, Statement};

use super::harness::up_with;

async fn the_load_generator_runs_every_call_without_errors(backend: Backend) {
    let limits = crm_gateway::limits::LimitConfig {
        rate: 1e9,
        burst: 1e9,
        in_flight: 4096,
        capacity: 4096,
    };
    let Some(suite) = up_with(backend, "bench", limits).await else {
        return;
    };
    if suite.dbs.is_none() {
        // A shared topology's gateway keeps its own (default) limits: the
        // generator would mostly measure RESOURCE_EXHAUSTED there.
        println!("bench: not run against the shared topology (its gateway's limits are not the test's)");
        return;
    }
    // pgbench on the pipeline's database, when it is PostgreSQL.
    let database_url = match (&suite.dbs, backend) {
        (Some((_, pipeline, _, _)), Backend::Postgres) => Some(pipeline.url.clone()),
        _ => None,
    };
    let tenant = format!("bench-{}", crm_kit::time::now_micros());
    let calls = {
        use crm::bench::Call::*;
        vec![Get, List, Create, Update, Move, Mix]
    };
    let opts = crm::bench::BenchOptions {
        addr: suite.url.clone(),
        connections: 2,
        streams: 8,
        duration: Duration::from_secs(1),
        deals: 200,
        calls: calls.clone(),
        database_url: database_url.clone(),
        floor: true,
        secret: TEST_SECRET_TEXT.into(),
        tenant: tenant.clone(),
    };
    let report = crm::bench::run(&opts).await.unwrap();
    let text = report.to_string();
    let floor = report.floor.as_ref().expect("the floor ran");
    assert!(floor.ok() > 0 && floor.errors.is_empty(), "{text}");
    assert_eq!(report.calls.len(), calls.len(), "{text}");
    for (call, tally) in &report.calls {
        assert!(tally.ok() > 0, "{} made no call:\n{text}", call.name());
        assert!(tally.errors.is_empty(), "{} had errors:\n{text}", call.name());
        assert!(tally.quantile_ms(0.5) <= tally.quantile_ms(0.99), "{text}");
    }
    for section in [
        "GetDeal",
        "ListDeals",
        "CreateDeal",
        "UpdateDeal",
        "MoveDeal",
        "against the floor",
    ] {
        assert!(text.contains(section), "{section}:\n{text}");
    }
    let Some(url) = database_url else { return };
    assert_eq!(report.pgbench.len(), 5, "a pgbench run per call but the mix:\n{text}");
    assert!(report.pgbench.iter().all(|s| s.tps > 0.0), "{text}");
    assert!(text.contains("against PostgreSQL"), "{text}");
    // pgbench's rows are gone; the generator's own deals are still there.
    let db = Database::connect(&url).await.unwrap();
    let count = |sql: String| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    let t = &tenant;
    let left = count(format!(
        "SELECT COUNT(*) FROM deals WHERE tenant_id = '{t}' AND id LIKE 'pgbench-%'"
    ))
    .await;
    let outbox = count("SELECT COUNT(*) FROM outbox WHERE event_type = 'bench.pgbench'".to_owned()).await;
    let seeded = count(format!("SELECT COUNT(*) FROM deals WHERE tenant_id = '{t}'")).await;
    assert_eq!((left, outbox), (0, 0), "pgbench's rows are deleted");
    assert!(seeded >= 200, "the bench tenant's deals: {seeded}");
}

crm_kit::backend_tests!(the_load_generator_runs_every_call_without_errors);
