//! The database's own limit: pgbench running the SQL each call makes, on
//! the pipeline's own tables, with as many clients as the bench has
//! streams and the plan cache mode the services use. Its rows are the
//! bench tenant's, its outbox rows are marked published (the relay leaves
//! them alone), and all of them are deleted afterwards.

use std::{path::Path, process::Command};

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

use super::{BenchOptions, Call};

/// One pgbench run: the call whose SQL it repeats and its transactions/s.
#[derive(Clone, Debug)]
pub struct Shape {
    /// The call it stands beside.
    pub call: Call,
    /// What the transaction holds.
    pub what: &'static str,
    /// Transactions per second.
    pub tps: f64,
}

/// The bytes of a typical event envelope in the outbox.
const ENVELOPE_BYTES: usize = 500;

/// Runs pgbench once per call shape against `url`.
pub async fn run(
    url: &str,
    opts: &BenchOptions,
    pipeline_id: &str,
    open: &[String],
    ids: &[String],
) -> anyhow::Result<Vec<Shape>> {
    anyhow::ensure!(!ids.is_empty(), "no seeded deals to run pgbench on");
    let dir = std::env::temp_dir().join(format!("crm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Bound parameters, as the services send them (and, under the
    // services' plan_cache_mode, planned at each execution as theirs are):
    // the tenant, the pipeline and an array of deal ids and stage ids that
    // each transaction picks one of by a random subscript.
    let ids: Vec<&str> = ids.iter().take(100).map(String::as_str).collect();
    let vars = [
        ("tenant", opts.tenant.clone()),
        ("pipeline", pipeline_id.to_owned()),
        ("ids", format!("{{{}}}", ids.join(","))),
        ("stages", format!("{{{}}}", open.join(","))),
        ("n", ids.len().to_string()),
        ("m", open.len().to_string()),
        ("now", crm_kit::time::now_micros().to_string()),
    ];
    let pick = "\\set i random(1, :n)\n\\set s random(1, :m)\n\\set r random(1, 1000000000000)\n";
    let id = "(:ids::text[])[:i]";
    let stage = "(:stages::text[])[:s]";
    let outbox = format!(
        "INSERT INTO outbox (event_id, tenant_id, event_type, aggregate_id, aggregate_version, envelope, \
         created_at, published_at) VALUES (gen_random_uuid()::text, :tenant, 'bench.pgbench', 'pgbench', 1, \
         decode(repeat('ab', {ENVELOPE_BYTES}), 'hex'), :now, :now);"
    );
    let new_id = "'pgbench-' || :client_id || '-' || :r";
    let transition = |deal: &str| {
        format!(
            "INSERT INTO deal_transitions (id, tenant_id, deal_id, from_stage_id, to_stage_id, actor_id, moved_at, \
             time_in_from_stage, lost_reason) VALUES ('pgbench-t-' || :client_id || '-' || :r, :tenant, {deal}, \
             NULL, {stage}, 'bench', :now, NULL, NULL);"
        )
    };
    let mut shapes = Vec::new();
    for call in &opts.calls {
        let (what, script): (&'static str, String) = match call {
            Call::Get => (
                "one deal by key",
                format!("{pick}SELECT * FROM deals WHERE tenant_id = :tenant AND id = {id} LIMIT 1;\n"),
            ),
            Call::List => (
                "a page of 51 deals of a stage",
                format!(
                    "{pick}SELECT * FROM deals WHERE tenant_id = :tenant AND pipeline_id = :pipeline AND \
                     stage_id = {stage} ORDER BY id LIMIT 51;\n"
                ),
            ),
            Call::Create => (
                "insert deal + transition + outbox",
                format!(
                    "{pick}BEGIN;\nINSERT INTO deals (id, tenant_id, pipeline_id, stage_id, status, title, \
                     amount_minor, currency, contact_id, company_id, owner_id, expected_close_date, lost_reason, \
                     stage_entered_at, closed_at, created_at, updated_at, version, custom_fields) VALUES \
                     ({new_id}, :tenant, :pipeline, {stage}, 'open', 'pgbench deal', 100000, 'EUR', NULL, NULL, \
                     'bench', NULL, NULL, :now, NULL, :now, :now, 1, '{{}}');\n{}\n{outbox}\nCOMMIT;\n",
                    transition(new_id)
                ),
            ),
            Call::Update => (
                "update deal + outbox",
                format!(
                    "{pick}BEGIN;\nUPDATE deals SET title = 'pgbench ' || :r, updated_at = :now, version = \
                     version + 1 WHERE tenant_id = :tenant AND id = {id};\n{outbox}\nCOMMIT;\n"
                ),
            ),
            Call::Move => (
                "update deal + transition + outbox",
                format!(
                    "{pick}BEGIN;\nUPDATE deals SET stage_id = {stage}, stage_entered_at = :now, updated_at = \
                     :now, version = version + 1 WHERE tenant_id = :tenant AND id = {id};\n{}\n{outbox}\nCOMMIT;\n",
                    transition(id)
                ),
            ),
            Call::Mix => continue,
        };
        let scripts = [script];
        let tps = pgbench(url, opts, &dir, (call.name(), &scripts), &vars)?;
        shapes.push(Shape { call: *call, what, tps });
    }
    cleanup(url, &opts.tenant).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(shapes)
}

/// Runs pgbench on `scripts` (chosen at random per transaction) and
/// returns its transactions per second.
fn pgbench(
    url: &str,
    opts: &BenchOptions,
    dir: &Path,
    (name, scripts): (&str, &[String]),
    vars: &[(&str, String)],
) -> anyhow::Result<f64> {
    let mut cmd = Command::new("pgbench");
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    cmd.args(["-n", "-M", "prepared"])
        .arg(format!("-c{}", opts.streams))
        .arg(format!("-j{}", threads.min(opts.streams)))
        .arg(format!("-T{}", opts.duration.as_secs().max(1)))
        // The services' setting (see crm_kit::db).
        .env("PGOPTIONS", "-c plan_cache_mode=force_custom_plan");
    for (name, value) in vars {
        cmd.arg("-D").arg(format!("{name}={value}"));
    }
    for (i, script) in scripts.iter().enumerate() {
        let path = dir.join(format!("{name}-{i}.sql"));
        std::fs::write(&path, script)?;
        cmd.arg("-f").arg(format!("{}@1", path.display()));
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .context("running pgbench (Debian: apt install postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench for {name} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    Ok(tps)
}

/// Deletes what pgbench wrote.
async fn cleanup(url: &str, tenant: &str) -> anyhow::Result<()> {
    let db = Database::connect(url)
        .await
        .context("connecting to clean up after pgbench")?;
    for sql in [
        format!("DELETE FROM deal_transitions WHERE tenant_id = '{tenant}' AND id LIKE 'pgbench-%'"),
        format!("DELETE FROM deals WHERE tenant_id = '{tenant}' AND id LIKE 'pgbench-%'"),
        format!("DELETE FROM outbox WHERE tenant_id = '{tenant}' AND event_type = 'bench.pgbench'"),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    db.close().await?;
    Ok(())
}
