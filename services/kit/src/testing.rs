//! Test support: a fresh database per test, on SQLite always and on
//! PostgreSQL when `CRM_TEST_DATABASE_URL` is set.
//!
//! Under `CI=true` a missing or unreachable PostgreSQL fails the test: the
//! PostgreSQL half is never skipped silently. Elsewhere, a skipped half is
//! announced on the terminal (past libtest's output capture).

use std::io::Write;

mod broker;
mod metrics;
pub mod proxy;

use uuid::Uuid;

pub use self::{
    broker::{TestBroker, wait_queue},
    metrics::{has_sample, sample, scrape},
};

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A new database on the server of `CRM_TEST_DATABASE_URL`.
    Postgres,
}

/// A database that exists for one test and is dropped after it.
pub struct TestDatabase {
    /// The URL to connect to.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh, empty database on `backend`, or `None` when the PostgreSQL
    /// half is skipped (never under CI: there it panics instead).
    pub async fn create(backend: Backend, test: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    cleanup: Cleanup::Dir(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_url(test)?;
                let name = format!("crm_test_{}", Uuid::now_v7().simple());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at CRM_TEST_DATABASE_URL: {e}"));
                use sea_orm::ConnectionTrait;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let url = replace_database(&admin_url, &name);
                Some(Self {
                    url,
                    cleanup: Cleanup::Postgres { admin_url, name },
                })
            }
        }
    }
}

/// The admin URL of the test PostgreSQL, or `None` (announced) when unset
/// outside CI.
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("CRM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but CRM_TEST_DATABASE_URL is not set: the PostgreSQL half must run in CI")
        }
        _ => {
            // Written straight to stderr so libtest's capture does not hide it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (PostgreSQL half): {test}: set CRM_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run it"
            );
            None
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let host_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_end..].find('/') {
        Some(slash) => &base[..host_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a fresh thread with its own
            // runtime can block on the DROP without stalling it.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                rt.block_on(async {
                    use sea_orm::ConnectionTrait;
                    if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .await;
                        let _ = admin.close().await;
                    }
                });
                Ok::<_, std::io::Error>(())
            })
            .join();
        }
    }
}

/// Generates one `#[tokio::test]` per backend for an async test function
/// that takes a [`Backend`]: `name_sqlite` and `name_postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Postgres).await
                }
            )*
        }
    };
}

/// The secret every test signs its tokens with, as text.
pub const TEST_SECRET_TEXT: &str = "crm-test-secret-0123456789abcdef0123";

/// The secret every test signs its tokens with.
pub const TEST_SECRET: &[u8] = TEST_SECRET_TEXT.as_bytes();

/// The token configuration that verifies what [`token`] mints.
pub fn auth_config() -> crate::auth::AuthConfig {
    crate::auth::AuthConfig::hs256(TEST_SECRET_TEXT)
}

/// The shared context of a test service.
pub fn shared() -> crate::Shared {
    crate::Shared::from_secret(TEST_SECRET)
}

std::thread_local! {
    static TENANT_SUFFIX: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// From now on, every tenant this thread's test names in [`token`] is its
/// own: `acme` becomes `acme-<suffix>`. Tests that share one running
/// topology (and so its databases) use it to stay out of each other's way;
/// a test's body runs on its own thread, so its tokens see its suffix.
pub fn own_tenants(suffix: &str) {
    TENANT_SUFFIX.with(|s| *s.borrow_mut() = format!("-{suffix}"));
}

/// The tenant id that [`token`] puts in tokens for `tenant` on this thread
/// (see [`own_tenants`]).
pub fn tenant_name(tenant: &str) -> String {
    TENANT_SUFFIX.with(|s| format!("{tenant}{}", s.borrow()))
}

/// A token for `user` of `tenant` with `roles`, valid for an hour.
pub fn token(tenant: &str, user: &str, roles: &[&str]) -> String {
    let tenant = tenant_name(tenant);
    crate::auth::TokenVerifier::hs256(TEST_SECRET).mint(&tenant, user, roles, 3600)
}

/// `msg` as a request carrying `token` as its bearer token.
pub fn authed<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("ASCII token"));
    req
}

/// A gRPC server on a random loopback port, stopped when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Serves `what` on `127.0.0.1:0`.
    pub async fn start(what: crate::server::Serve) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(crate::server::serve(listener, what, async {
            let _ = stopped.await;
        }));
        Self { addr, stop: Some(stop) }
    }

    /// `http://addr`, for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `service` (what its crate's `startup::build` returned) on a
    /// port of its own, as `crm serve` would; its work (consumer, jobs) is
    /// handed back for the test to run as it needs.
    pub async fn start_service(service: crate::startup::Service) -> (Self, crate::startup::Work) {
        let (serve, mut works) = crate::startup::Service::serve_all(vec![service]);
        let work = works.pop().expect("one service, one work");
        (Self::start(serve).await, work)
    }

    /// A channel to the server.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url())
            .expect("url")
            .connect()
            .await
            .expect("connect to test server")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts `status` is INVALID_ARGUMENT naming `field` in its BadRequest.
pub fn assert_bad_field(status: &tonic::Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation of {field}, got {fields:?} ({})",
        status.message()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_database_name_replaces_the_admin_database() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://p@h/postgres?sslmode=disable", "x"),
            "postgres://p@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://p@h", "x"), "postgres://p@h/x");
    }
}
