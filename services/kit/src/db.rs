//! Database connections: PostgreSQL in production, SQLite for the embedded
//! default, chosen by the URL alone, and the service's migrations run on
//! connect.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

/// Connects to `url` (`postgres://...` or `sqlite://path`).
///
/// SQLite gets one connection: it has a single writer anyway, and one
/// connection means a transaction never meets SQLITE_BUSY half-way. The
/// file is created if missing, in WAL mode with foreign keys on.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    open(url, 16).await
}

/// A pool on `url` of at most `max` connections (one on SQLite).
async fn open(url: &str, max: u32) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        // A saturated or unreachable database answers UNAVAILABLE quickly
        // instead of holding the caller's deadline.
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        // A ping before every checkout is a round trip per query (GetDeal
        // cost two); only a connection idle long enough to have been cut
        // (a restart, a proxy) is pinged. One cut while busy fails its
        // query, which answers UNAVAILABLE, and the pool replaces it.
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        opts.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    } else {
        // A plan per execution: PostgreSQL otherwise settles on a generic
        // plan per prepared statement, and one made while a table was small
        // (or never analyzed: autovacuum may be off) keeps its choice of
        // index as the table grows; a key lookup then walked a whole tenant.
        opts.max_connections(max)
            .min_connections(1)
            .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
    }
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// A small pool of its own for background work (the outbox relay) on the
/// database at `url`, so that requests holding every connection of `main`
/// cannot make it wait, nor it them; on SQLite (one connection) `main`.
pub async fn background(url: &str, main: &DatabaseConnection) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        return Ok(main.clone());
    }
    open(url, 2).await
}

/// How many read connections a SQLite database gets beside its writer.
fn sqlite_readers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    u32::try_from(cores.clamp(2, 8)).unwrap_or(2)
}

/// Where a service runs its reads outside transactions. On SQLite, a pool
/// of read-only connections (one per core, 2 to 8) beside the single
/// writer of [`connect`]: in WAL mode readers never wait for the writer nor
/// it for them, and they run on every core; each sees what was committed
/// when its statement began. On PostgreSQL (and an in-memory SQLite), the
/// main pool itself.
pub fn readers(main: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::{DbBackend, SqlxSqliteConnector, sqlx::sqlite::SqlitePoolOptions};
    if main.get_database_backend() != DbBackend::Sqlite {
        return main.clone();
    }
    let pool = main.get_sqlite_connection_pool();
    let opts = (*pool.connect_options()).clone();
    if opts.get_filename() == std::path::Path::new(":memory:") {
        return main.clone();
    }
    let readers = SqlitePoolOptions::new()
        .max_connections(sqlite_readers())
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_lazy_with(opts.read_only(true));
    SqlxSqliteConnector::from_sqlx_sqlite_pool(readers)
}

/// Connects and brings the schema up to date with migrator `M`.
pub async fn connect_and_migrate<M: MigratorTrait>(url: &str) -> anyhow::Result<DatabaseConnection> {
    let db = connect(url).await?;
    M::up(&db, None)
        .await
        .with_context(|| format!("migrating {}", redact(url)))?;
    Ok(db)
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_the_log() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact("sqlite://./crm-data/x.db"), "sqlite://./crm-data/x.db");
    }
}
