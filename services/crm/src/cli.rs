//! The command line: `up` (the default), `serve`, `migrate`, `token`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use crm_kit::{
    auth::TokenVerifier,
    config::{AuthArgs, DataDirArgs, ListenArgs, LogArgs},
};

use crate::ServiceName;

/// The CRM sales-pipeline suite.
#[derive(Parser, Debug)]
#[command(name = "crm", version, about)]
pub struct Cli {
    /// What to do; `up` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where and as whom the client subcommands call.
    #[command(flatten)]
    pub connection: crate::client::Connection,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// What `crm dlq` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DlqAction {
    /// One line per dead letter; they stay where they are.
    List,
    /// One dead letter (`--event-id`) in full, as JSON.
    Show,
    /// Sends the dead letters (or `--event-id`'s) back to the service's queue.
    Replay,
    /// Drops every dead letter.
    Purge,
}

/// The gateway's per-tenant limits.
#[derive(clap::Args, Clone, Debug)]
pub struct LimitArgs {
    /// Calls per second each tenant may make through the gateway, sustained.
    #[arg(long = "rate-limit", env = "CRM_RATE_LIMIT", default_value_t = 500.0)]
    pub rate: f64,
    /// Calls a tenant may make at once after a quiet spell.
    #[arg(long = "rate-burst", env = "CRM_RATE_BURST", default_value_t = 1000.0)]
    pub burst: f64,
    /// Calls a tenant may have in flight at once.
    #[arg(long = "tenant-in-flight", env = "CRM_TENANT_IN_FLIGHT", default_value_t = 64)]
    pub in_flight: usize,
    /// Calls in flight through the gateway at once, all tenants together; a
    /// busy tenant holds at most a fair share of them.
    #[arg(long = "gateway-capacity", env = "CRM_GATEWAY_CAPACITY", default_value_t = 256)]
    pub capacity: usize,
}

impl LimitArgs {
    /// As the gateway takes them.
    pub fn config(&self) -> crm_gateway::limits::LimitConfig {
        crm_gateway::limits::LimitConfig {
            rate: self.rate.max(0.001),
            burst: self.burst.max(1.0),
            in_flight: self.in_flight.max(1),
            capacity: self.capacity.max(2),
        }
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Every service on one port, SQLite files under the data directory,
    /// nothing else to install or start.
    Up {
        /// Where to listen.
        #[command(flatten)]
        listen: ListenArgs,
        /// Where the SQLite files live.
        #[command(flatten)]
        data: DataDirArgs,
        /// Token verification.
        #[command(flatten)]
        auth: AuthArgs,
        /// The gateway's per-tenant limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// One service alone, with its own database: what a container runs.
    Serve {
        /// Which service.
        service: ServiceName,
        /// Where to listen.
        #[command(flatten)]
        listen: ListenArgs,
        /// The service's database (postgres://... or sqlite://...); the
        /// gateway has none.
        #[arg(long, env = "CRM_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Where ContactsService answers (used by pipeline, tasks and the gateway).
        #[arg(long, env = "CRM_CONTACTS_URL", default_value = "http://127.0.0.1:50051")]
        contacts_url: String,
        /// Where PipelineService answers (used by tasks, analytics and the gateway).
        #[arg(long, env = "CRM_PIPELINE_URL", default_value = "http://127.0.0.1:50051")]
        pipeline_url: String,
        /// Where TasksService answers (used by the gateway).
        #[arg(long, env = "CRM_TASKS_URL", default_value = "http://127.0.0.1:50051")]
        tasks_url: String,
        /// Where AnalyticsService answers (used by the gateway).
        #[arg(long, env = "CRM_ANALYTICS_URL", default_value = "http://127.0.0.1:50051")]
        analytics_url: String,
        /// The RabbitMQ broker the outbox relay publishes to, e.g.
        /// amqp://user:pass@host:5672/%2f.
        #[arg(long, env = "CRM_AMQP_URL", hide_env_values = true)]
        amqp_url: Option<String>,
        /// Token verification.
        #[command(flatten)]
        auth: AuthArgs,
        /// The gateway's per-tenant limits.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Copies the embedded mode's SQLite files while the suite runs (see
    /// the README's Backups: consumers first, then producers).
    Backup {
        /// The data directory to copy.
        #[command(flatten)]
        data: DataDirArgs,
        /// A new, empty directory for the copy.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Milliseconds to wait between two files, to spread the I/O.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Puts a backup into a data directory without the suite's files, and
    /// marks what was published after the backup began for publishing again.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Where the suite will run from.
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Marks a service database's outbox rows published since a time as
    /// unpublished, so its relay publishes them again (after a PostgreSQL
    /// restore; consumers skip what they had applied).
    Republish {
        /// The producer's database.
        #[arg(long, env = "CRM_DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Microseconds since the epoch (a backup's `started_at`).
        #[arg(long)]
        since: i64,
    },
    /// Applies one service's database migrations and exits.
    Migrate {
        /// Which service.
        service: ServiceName,
        /// The service's database.
        #[arg(long, env = "CRM_DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Fills a demo tenant with a year of seeded history and prints the
    /// report a sales manager would read.
    Demo {
        /// Where the suite answers (`crm up` or a gateway).
        #[arg(long, env = "CRM_ADDR", default_value = "http://127.0.0.1:50051")]
        addr: String,
        /// The demo tenant.
        #[arg(long, default_value = "demo")]
        tenant: String,
        /// How many deals to generate.
        #[arg(long, default_value_t = 3000)]
        deals: usize,
        /// The seed: the same seed gives the same data and forecast.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Token signing (the same secret the suite uses).
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// A load generator for the everyday calls (see the README's Figures):
    /// seeds a tenant of its own, runs each call alone and then a mix, and
    /// prints throughput, latency and errors beside the floor
    /// (Health/Check) and, given the pipeline's PostgreSQL database,
    /// pgbench with the same SQL.
    Bench {
        /// Where PipelineService answers (`crm up`, `crm serve pipeline`, a gateway).
        #[arg(long, env = "CRM_ADDR", default_value = "http://127.0.0.1:50051")]
        addr: String,
        /// HTTP/2 connections (1 to 256).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
        connections: u16,
        /// Calls in flight at once over all connections (1 to 4096).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
        streams: u16,
        /// Seconds each call runs (1 to 3600).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=3600))]
        duration: u16,
        /// Deals seeded first (1 to 1,000,000).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        deals: u32,
        /// The calls to run, in order (comma-separated).
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "get,list,create,update,move,mix"
        )]
        calls: Vec<crate::bench::Call>,
        /// The pipeline's PostgreSQL database: runs pgbench with the same SQL beside each call.
        #[arg(long, env = "CRM_BENCH_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Skips the Health/Check floor.
        #[arg(long)]
        no_floor: bool,
        /// The tenant to seed and call as (default: a new one per run).
        #[arg(long = "bench-tenant", id = "bench_tenant")]
        tenant: Option<String>,
        /// Token signing (the same secret the suite uses).
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// The events a consumer gave up on: list, show one, replay, purge.
    Dlq {
        /// What to do.
        #[arg(value_enum)]
        action: DlqAction,
        /// The consuming service: contacts, tasks or analytics.
        service: ServiceName,
        /// Only this event (for show and replay).
        #[arg(long)]
        event_id: Option<String>,
        /// The RabbitMQ broker.
        #[arg(long, env = "CRM_AMQP_URL", hide_env_values = true)]
        amqp_url: String,
    },
    // The client commands (pipelines, deals, board, tasks, reports) call
    // the suite; each documents itself in `client`.
    #[command(flatten)]
    Client(crate::client::ClientCommand),
    /// Mints a bearer token for development.
    Token {
        /// The tenant id (`tid`).
        #[arg(long)]
        tenant: String,
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// A role: admin, manager, rep or viewer (repeatable).
        #[arg(long = "role", value_parser = crm_tenancy::ROLES, default_value = "admin")]
        roles: Vec<String>,
        /// How long the token is valid, e.g. `12h`, `30m`.
        #[arg(long, default_value = "12h", value_parser = parse_ttl)]
        ttl: Duration,
        /// Token verification (the same secret the services use).
        #[command(flatten)]
        auth: AuthArgs,
    },
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 12h or 30m"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

/// Mints a token as `crm token` does.
pub fn mint(auth: &AuthArgs, tenant: &str, user: &str, roles: &[String], ttl: Duration) -> String {
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    TokenVerifier::hs256(auth.secret.as_bytes()).mint(tenant, user, &roles, ttl.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_with_their_units() {
        assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn no_subcommand_means_up() {
        let cli = Cli::try_parse_from(["crm"]).unwrap();
        assert!(cli.command.is_none());
    }
}
