//! What a service reads on nearly every call but changes rarely (a
//! tenant's settings, its field definitions, a pipeline's stages), kept in
//! memory so that a read costs one round trip to the database.
//!
//! The cache itself only bounds age and memory: an entry is served for at
//! most [`TTL`] after the moment its load *started*, a load that overlapped
//! a [`Cache::forget`] is not kept, and at most [`CAPACITY`] entries are
//! held (when full, the expired ones go first, then the oldest, so no
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
    /// Bumped by every forget: a load that began under an older generation
    /// may have read what the forget was for, so it is not stored.
    generation: u64,
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
                generation: 0,
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

    /// The entry for `key`, loaded with `load` when it is missing or
    /// expired. A failed load is not stored; neither is one that a
    /// [`Cache::forget`] overlapped (its value is still returned: it is
    /// what the database said while this call ran).
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let generation = {
            let inner = self.lock();
            if let Some((at, value)) = inner.entries.get(key)
                && at.elapsed() < self.ttl
            {
                return Ok(value.clone());
            }
            inner.generation
        };
        let started = Instant::now();
        let value = Arc::new(load().await?);
        let mut inner = self.lock();
        if inner.generation == generation {
            if inner.entries.len() >= self.capacity && !inner.entries.contains_key(key) {
                self.make_room(&mut inner);
            }
            inner.entries.insert(key.clone(), (started, value.clone()));
        }
        Ok(value)
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

    /// Drops the entry for `key`, and keeps no load that was under way.
    pub fn forget(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(key);
    }

    /// Drops every entry `matches` selects, and keeps no load under way.
    pub fn forget_where(&self, mut matches: impl FnMut(&K) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|k, _| !matches(k));
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
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn loads(cache: &Cache<&'static str, u32>, key: &'static str, counter: &AtomicU32) -> u32 {
        let v = cache
            .get_or_load(&key, || async {
                Ok::<_, ()>(counter.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap();
        *v
    }

    #[tokio::test]
    async fn an_entry_is_loaded_once_within_its_ttl_and_again_after_it_or_a_forget() {
        let cache = Cache::new(Duration::from_millis(200), 10);
        let n = AtomicU32::new(0);
        assert_eq!(loads(&cache, "a", &n).await, 1);
        assert_eq!(loads(&cache, "a", &n).await, 1);
        cache.forget(&"a");
        assert_eq!(loads(&cache, "a", &n).await, 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(loads(&cache, "a", &n).await, 3);
    }

    #[tokio::test]
    async fn a_load_that_a_forget_overlapped_is_not_kept() {
        let cache: Cache<&str, u32> = Cache::new(Duration::from_secs(60), 10);
        let c = cache.clone();
        let v = cache
            .get_or_load(&"a", || async move {
                c.forget(&"a");
                Ok::<_, ()>(7)
            })
            .await
            .unwrap();
        assert_eq!(*v, 7);
        assert_eq!(cache.get(&"a"), None);
    }

    #[tokio::test]
    async fn a_failed_load_is_not_kept() {
        let cache: Cache<&str, u32> = Cache::new(Duration::from_secs(60), 10);
        let r = cache.get_or_load(&"a", || async { Err::<u32, _>("down") }).await;
        assert_eq!(r.unwrap_err(), "down");
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn a_full_cache_drops_its_oldest_entry_and_never_grows_past_capacity() {
        let cache = Cache::new(Duration::from_secs(60), 3);
        let n = AtomicU32::new(0);
        for key in ["a", "b", "c", "d", "e"] {
            loads(&cache, key, &n).await;
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&"a"), None);
        assert!(cache.get(&"e").is_some());
    }
}
