//! Configuration: every setting is a CLI flag and a `CRM_*` environment
//! variable, declared here once so `crm --help` and the README agree.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;

/// The development secret `crm up` uses when none is configured. `crm serve`
/// refuses it.
pub const DEV_SECRET: &str = "crm-dev-secret-change-me-0123456789abcdef";

/// Token verification.
#[derive(Args, Clone, Debug)]
pub struct AuthArgs {
    /// The HS256 secret that signs and verifies bearer tokens (at least 32 bytes).
    #[arg(long = "auth-secret", env = "CRM_AUTH_SECRET", default_value = DEV_SECRET, hide_env_values = true, hide_default_value = true)]
    pub secret: String,
    /// A JWKS file: RS256/ES256 tokens are verified with its key named by
    /// their `kid` (publish the next key beside the current one to rotate).
    #[arg(long = "auth-jwks", env = "CRM_AUTH_JWKS")]
    pub jwks: Option<std::path::PathBuf>,
    /// When set, tokens must carry this `iss`.
    #[arg(long = "auth-issuer", env = "CRM_AUTH_ISSUER")]
    pub issuer: Option<String>,
    /// When set, tokens' `aud` must include this.
    #[arg(long = "auth-audience", env = "CRM_AUTH_AUDIENCE")]
    pub audience: Option<String>,
}

impl AuthArgs {
    /// The verification settings, with the JWKS file read.
    pub fn config(&self) -> anyhow::Result<crate::auth::AuthConfig> {
        let jwks = match &self.jwks {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading the JWKS {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(crate::auth::AuthConfig {
            secret: self.secret.clone(),
            jwks,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
        })
    }

    /// Whether the development secret is in use.
    pub fn is_dev_secret(&self) -> bool {
        self.secret == DEV_SECRET
    }
}

/// Where to listen.
#[derive(Args, Clone, Debug)]
pub struct ListenArgs {
    /// The address to serve gRPC on.
    #[arg(long = "listen", env = "CRM_LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP),
    /// e.g. `0.0.0.0:9090`; unset serves none.
    #[arg(long = "metrics-listen", env = "CRM_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// Logging.
#[derive(Args, Clone, Debug)]
pub struct LogArgs {
    /// `text` (default) or `json` log lines. Levels come from `RUST_LOG`.
    #[arg(long = "log-format", env = "CRM_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// The embedded mode's storage.
#[derive(Args, Clone, Debug)]
pub struct DataDirArgs {
    /// The directory of the embedded mode's SQLite files (one per service).
    #[arg(long = "data-dir", env = "CRM_DATA_DIR", default_value = "./crm-data")]
    pub data_dir: PathBuf,
}

impl DataDirArgs {
    /// The SQLite URL of `service`'s database in the data directory.
    pub fn sqlite_url(&self, service: &str) -> String {
        format!("sqlite://{}", self.data_dir.join(format!("{service}.db")).display())
    }
}
