//! What a service reads on nearly every call but changes rarely (a
//! tenant's settings, its field definitions, a pipeline's stages), kept in
//! memory so that a read costs one round trip to the database.
//!
//! The cache itself only bounds age and memory: an entry is served for at
//! most [`TTL`] after the moment its load *started*, and at most
//! [`CAPACITY`] entries are held (when full, the expired ones go first, then the oldest, so no
//! tenant can grow it without bound). Freshness across replicas comes from
//! [`config_versions`]: every change to what is cached raises the tenant's
//! version in its own transaction, each read statement reads the version
//! with its rows, and a copy is used only under the version it was loaded
//! at (see the pipeline service's `store::cached`).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// How long an entry is served after its load started.
pub const TTL: Duration = Duration::from_secs(1);

/// The most entries one cache holds.
pub const CAPACITY: usize = 10_000;

/// A map from `K` to shared values, each kept for at most its TTL.
pub struct Cache<K, V> {
    inner: Arc<Mutex<Inner<K, V>>>,
    ttl: Duration,
    capacity: usize,
}

struct Inner<K, V> {
    entries: HashMap<K, (Instant, Arc<V>)>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            ttl: self.ttl,
            capacity: self.capacity,
        }
    }
}

impl<K, V> std::fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self::new(TTL, CAPACITY)
    }
}

impl<K: Eq + Hash + Clone, V> Cache<K, V> {
    /// An empty cache whose entries live `ttl`, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashMap::new(),
            })),
            ttl,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock cannot leave the map half-changed
        // (every change is one call), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fresh entry for `key`, if there is one.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let inner = self.lock();
        let (at, value) = inner.entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Stores `value` for `key` as loaded at `started`, over whatever is
    /// there (for values that carry their own version, which the reader
    /// checks: a racing writer can only make a reader load again).
    pub fn put(&self, key: &K, value: Arc<V>, started: Instant) {
        let mut inner = self.lock();
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(key) {
            self.make_room(&mut inner);
        }
        inner.entries.insert(key.clone(), (started, value));
    }

    fn make_room(&self, inner: &mut Inner<K, V>) {
        let ttl = self.ttl;
        inner.entries.retain(|_, (at, _)| at.elapsed() < ttl);
        if inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
    }

    /// How many entries the cache holds (fresh or not).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `config_versions` table: per tenant, a number that every change to
/// what a service caches raises in the change's own transaction. Reading it
/// with a call's rows (one primary-key subquery in the same statement)
/// tells whether a cached copy is still the stored one.
pub mod config_versions {
    use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
    use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

    use crate::tenant::Tenant;

    /// The table's name.
    pub const TABLE: &str = "config_versions";

    /// The table.
    pub mod entity {
        use sea_orm::entity::prelude::*;

        /// One tenant's configuration version.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "config_versions")]
        pub struct Model {
            /// The tenant.
            #[sea_orm(primary_key, auto_increment = false)]
            pub tenant_id: String,
            /// Raised by every change (absent: 0).
            pub version: i64,
        }

        /// No relations.
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// Raises the tenant's version, inside the change's transaction `conn`.
    pub async fn bump(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<(), DbErr> {
        let backend = conn.get_database_backend();
        let p = if backend == DbBackend::Postgres { "$1" } else { "?" };
        let sql = format!(
            "INSERT INTO {TABLE} (tenant_id, version) VALUES ({p}, 1) \
             ON CONFLICT (tenant_id) DO UPDATE SET version = {TABLE}.version + 1"
        );
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, [tenant.id().into()]))
            .await?;
        Ok(())
    }

    /// The SQL of the version of the tenant in column `tenant_col`, for a
    /// statement's select list (NULL reads as 0).
    pub fn subquery(tenant_col: &str) -> String {
        format!(r#"(SELECT "version" FROM "{TABLE}" WHERE "tenant_id" = {tenant_col})"#)
    }

    /// The tenant's version alone (0 if it never changed).
    pub async fn read(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<i64, DbErr> {
        use sea_orm::EntityTrait;
        Ok(entity::Entity::find_by_id(tenant.id())
            .one(conn)
            .await?
            .map_or(0, |row| row.version))
    }

    /// Creates the table; a service that caches lists it in its `Migrator`.
    pub struct CreateConfigVersions;

    impl MigrationName for CreateConfigVersions {
        fn name(&self) -> &str {
            "m20261202_000020_create_config_versions"
        }
    }

    #[sea_orm_migration::async_trait::async_trait]
    impl MigrationTrait for CreateConfigVersions {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            crate::migration::create_from_entity(manager, entity::Entity).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_within_its_ttl_counted_from_its_load_and_replaced_by_a_put() {
        let cache = Cache::new(Duration::from_millis(200), 10);
        cache.put(&"a", Arc::new(1), Instant::now());
        assert_eq!(cache.get(&"a").as_deref(), Some(&1));
        cache.put(&"a", Arc::new(2), Instant::now());
        assert_eq!(cache.get(&"a").as_deref(), Some(&2));
        // Loaded 250 ms ago: already past its TTL when stored.
        cache.put(&"b", Arc::new(3), Instant::now() - Duration::from_millis(250));
        assert_eq!(cache.get(&"b"), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn a_full_cache_drops_its_oldest_entry_and_never_grows_past_capacity() {
        let cache = Cache::new(Duration::from_secs(60), 3);
        for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            cache.put(&key, Arc::new(i), Instant::now());
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&"a"), None);
        assert!(cache.get(&"e").is_some());
    }
}
