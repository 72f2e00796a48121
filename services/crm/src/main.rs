//! `crm`: run the suite (`crm up`, the default), one service (`crm serve`),
//! migrations (`crm migrate`), or mint a development token (`crm token`).
#![forbid(unsafe_code)]

use anyhow::{Context, bail};
use clap::Parser;
use crm::{
    SuiteConfig,
    cli::{Cli, Command, LimitArgs, mint},
    local_url,
};
use crm_kit::{
    config::{AuthArgs, DataDirArgs, ListenArgs},
    server::shutdown_signal,
    telemetry,
};
use tokio::net::TcpListener;

/// mimalloc: it returns what a burst allocated to the system afterwards
/// (see the root Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let telemetry = telemetry::init(cli.log.log_format == "json", &service_name(cli.command.as_ref()));
    // No command is `crm up` with its defaults (and the environment's settings).
    let command = cli.command.or_else(|| Cli::parse_from(["crm", "up"]).command);
    let result = match command {
        None => unreachable!("`crm up` parses as a command"),
        Some(Command::Up {
            listen,
            data,
            auth,
            limits,
        }) => up(listen, data, auth, limits).await,
        Some(Command::Serve {
            service,
            listen,
            database_url,
            contacts_url,
            pipeline_url,
            tasks_url,
            analytics_url,
            amqp_url,
            auth,
            limits,
        }) => {
            let database_url = match database_url {
                Some(url) => url,
                None if service == crm::ServiceName::Gateway => String::new(),
                None => bail!("`crm serve {service:?}` needs its database: set CRM_DATABASE_URL"),
            };
            if auth.is_dev_secret() || auth.secret.len() < 32 {
                bail!("`crm serve` needs CRM_AUTH_SECRET: a secret of at least 32 bytes, not the development default");
            }
            let listener = TcpListener::bind(listen.listen)
                .await
                .with_context(|| format!("binding {}", listen.listen))?;
            tracing::info!(addr = %listener.local_addr()?, ?service, "serving");
            crm_kit::metrics::endpoint::spawn(listen.metrics_listen).await?;
            let amqp = amqp_url.map(crm_kit::bus::amqp::AmqpConfig::new);
            let config = crm::ServiceConfig {
                database_url,
                contacts_url,
                pipeline_url,
                tasks_url,
                analytics_url,
                amqp,
                auth: auth.config()?,
                limits: limits.config(),
            };
            crm::run_service(service, listener, config, shutdown_signal()).await
        }
        Some(Command::Demo {
            addr,
            tenant,
            deals,
            seed,
            auth,
        }) => {
            let opts = crm::demo::DemoOptions {
                addr,
                tenant,
                deals,
                seed,
                secret: auth.secret,
            };
            print!("{}", crm::demo::run(&opts).await?);
            Ok(())
        }
        Some(Command::Bench {
            addr,
            connections,
            streams,
            duration,
            deals,
            calls,
            database_url,
            no_floor,
            tenant,
            auth,
        }) => {
            let opts = crm::bench::BenchOptions {
                addr,
                connections: usize::from(connections),
                streams: usize::from(streams),
                duration: std::time::Duration::from_secs(u64::from(duration)),
                deals: deals as usize,
                calls,
                database_url,
                floor: !no_floor,
                secret: auth.secret,
                tenant: tenant.unwrap_or_else(|| format!("bench-{}", crm_kit::time::now_micros())),
            };
            print!("{}", crm::bench::run(&opts).await?);
            Ok(())
        }
        Some(Command::Dlq {
            action,
            service,
            event_id,
            amqp_url,
        }) => {
            let config = crm_kit::bus::amqp::AmqpConfig::new(amqp_url);
            println!("{}", crm::dlq::run(config, action, service, event_id.as_deref()).await?);
            Ok(())
        }
        Some(Command::Client(command)) => {
            println!("{}", crm::client::run(&cli.connection, &command).await?);
            Ok(())
        }
        Some(Command::Migrate { service, database_url }) => crm::migrate(service, &database_url).await,
        Some(Command::Backup { data, to, pause_ms }) => {
            let pause = std::time::Duration::from_millis(pause_ms);
            let m = crm::backup::backup(&data.data_dir, &to, pause).await?;
            println!(
                "backed up {} files into {} (started_at {})",
                m.files.len(),
                to.display(),
                m.started_at
            );
            Ok(())
        }
        Some(Command::Restore { from, data }) => {
            for (service, n) in crm::backup::restore(&from, &data.data_dir).await? {
                println!("{service}: {n} events to publish again");
            }
            println!(
                "restored into {}; start it with `crm up --data-dir {}`",
                data.data_dir.display(),
                data.data_dir.display()
            );
            Ok(())
        }
        Some(Command::Republish { database_url, since }) => {
            let db = crm_kit::db::connect(&database_url).await?;
            println!("{} events to publish again", crm::backup::republish(&db, since).await?);
            Ok(())
        }
        Some(Command::Token {
            tenant,
            user,
            roles,
            ttl,
            auth,
        }) => {
            println!("{}", mint(&auth, &tenant, &user, &roles, ttl));
            Ok(())
        }
    };
    // After SIGTERM too: the last spans are exported before the process ends.
    telemetry.shutdown().await;
    result
}

/// The `service.name` of exported spans: `crm-<service>` for `crm serve`, else `crm`.
fn service_name(command: Option<&Command>) -> String {
    match command {
        Some(Command::Serve { service, .. }) => format!("crm-{service:?}").to_lowercase(),
        _ => "crm".to_owned(),
    }
}

async fn up(listen: ListenArgs, data: DataDirArgs, auth: AuthArgs, limits: LimitArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data.data_dir).with_context(|| format!("creating {}", data.data_dir.display()))?;
    let listener = TcpListener::bind(listen.listen)
        .await
        .with_context(|| format!("binding {}", listen.listen))?;
    let url = local_url(listener.local_addr()?);
    let config = SuiteConfig {
        contacts_db: data.sqlite_url("contacts"),
        pipeline_db: data.sqlite_url("pipeline"),
        tasks_db: data.sqlite_url("tasks"),
        analytics_db: data.sqlite_url("analytics"),
        auth: auth.config()?,
        limits: limits.config(),
    };
    if auth.is_dev_secret() {
        tracing::warn!("using the development token secret; set CRM_AUTH_SECRET for anything but a laptop");
    }
    println!(
        "crm is up on {url}: gRPC (contacts, pipeline, tasks, analytics, health, reflection) and the same RPCs as JSON"
    );
    if let Some(addr) = crm_kit::metrics::endpoint::spawn(listen.metrics_listen).await? {
        println!("  metrics: http://{addr}/metrics");
    }
    println!("  data:  {}", data.data_dir.display());
    println!("  token: TOKEN=$(cargo run --release -q -- token --tenant acme --user ann --role admin)");
    println!(
        "  try:   grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" {} list",
        url.trim_start_matches("http://")
    );
    crm::run_suite(listener, config, shutdown_signal()).await
}
