//! `crm backup` and `crm restore`: the embedded mode's four SQLite files,
//! copied while the suite runs, and put back so that nothing is lost and
//! nothing is applied twice.
//!
//! Each file is copied with SQLite's `VACUUM INTO`, a consistent snapshot
//! of that file taken in a read transaction, so writers go on meanwhile.
//! The four files are not one snapshot, so the order matters: the services
//! that consume events are copied before the ones that produce them
//! ([`ORDER`]: analytics, tasks, contacts, pipeline). A consumer's copy then
//! holds no effect of an event its producer's copy lacks. The events that
//! a producer published after the first copy began may be missing from a
//! consumer's copy, though: `restore` marks those outbox rows unpublished
//! again, so the relays publish them once more, and each consumer's inbox
//! (`processed_events`, also in its copy) skips the ones it had applied.
//!
//! The same holds for PostgreSQL: `pg_dump` the service databases in
//! [`ORDER`], noting when the first began, `pg_restore` them, then run
//! `crm republish --since <that time>` on each producer's database.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The order the files are copied in: consumers before producers.
pub const ORDER: [&str; 4] = ["analytics", "tasks", "contacts", "pipeline"];

/// The services whose outbox a restore republishes from.
const PRODUCERS: [&str; 3] = ["contacts", "pipeline", "tasks"];

/// What a backup holds, written beside the files as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// When the first copy began (µs since the epoch, UTC).
    pub started_at: i64,
    /// When each file's copy was taken, in [`ORDER`].
    pub files: Vec<(String, i64)>,
}

fn file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.db"))
}

async fn open(path: &Path) -> anyhow::Result<DatabaseConnection> {
    let url = format!("sqlite://{}?mode=rw", path.display());
    Database::connect(&url)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// Copies the four files of `data_dir` into `to` (a new or empty directory)
/// while the suite may be running, waiting `pause` between two files (to
/// spread the I/O of a large backup; any pause is safe, see the module docs).
pub async fn backup(data_dir: &Path, to: &Path, pause: std::time::Duration) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    if std::fs::read_dir(to)?.next().is_some() {
        bail!(
            "{} is not empty: a backup goes into a directory of its own",
            to.display()
        );
    }
    let started_at = crm_kit::time::now_micros();
    let mut files = Vec::with_capacity(ORDER.len());
    for (i, service) in ORDER.into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        let from = file(data_dir, service);
        if !from.exists() {
            bail!(
                "{} does not exist: is {} the data directory?",
                from.display(),
                data_dir.display()
            );
        }
        let db = open(&from).await?;
        let target = file(to, service).display().to_string().replace('\'', "''");
        let taken_at = crm_kit::time::now_micros();
        db.execute_unprepared(&format!("VACUUM INTO '{target}'"))
            .await
            .with_context(|| format!("copying {service}"))?;
        db.close().await?;
        files.push((service.to_owned(), taken_at));
    }
    let manifest = Manifest { started_at, files };
    std::fs::write(to.join("manifest.json"), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Puts the backup in `from` into `data_dir` (which must hold none of the
/// four files), and marks what the producers published after the backup
/// began as unpublished; returns how many events each will publish again.
pub async fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(from.join("manifest.json"))
            .with_context(|| format!("reading {}/manifest.json", from.display()))?,
    )?;
    std::fs::create_dir_all(data_dir)?;
    for service in ORDER {
        let target = file(data_dir, service);
        if target.exists() {
            bail!(
                "{} exists: restore into a data directory without the suite's files",
                target.display()
            );
        }
    }
    for service in ORDER {
        std::fs::copy(file(from, service), file(data_dir, service)).with_context(|| format!("restoring {service}"))?;
    }
    let mut again = Vec::new();
    for service in PRODUCERS {
        let db = open(&file(data_dir, service)).await?;
        again.push((service.to_owned(), republish(&db, manifest.started_at).await?));
        db.close().await?;
    }
    Ok(again)
}

/// Marks the outbox rows of `db` published at or after `since` (µs) as
/// unpublished, so the relay publishes them again; returns how many.
pub async fn republish(db: &DatabaseConnection, since: i64) -> anyhow::Result<u64> {
    let sql = format!("UPDATE outbox SET published_at = NULL WHERE published_at >= {since}");
    Ok(db.execute_unprepared(&sql).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    #[test]
    fn consumers_are_copied_before_the_producers_of_their_events() {
        let at = |s: &str| super::ORDER.iter().position(|o| *o == s).unwrap();
        // analytics and tasks consume pipeline's and contacts' events;
        // contacts consumes pipeline's settings.
        for (consumer, producer) in [
            ("analytics", "pipeline"),
            ("analytics", "contacts"),
            ("tasks", "pipeline"),
            ("tasks", "contacts"),
            ("contacts", "pipeline"),
        ] {
            assert!(at(consumer) < at(producer), "{consumer} before {producer}");
        }
    }
}
