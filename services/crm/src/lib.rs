//! The `crm` binary's library: how the suite is assembled, both as the
//! embedded all-in-one process (`crm up`, [`run_suite`]) and as one service
//! per process (`crm serve <service>`, [`run_service`]). The end-to-end
//! tests start the suite through this library exactly as the binary does.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod demo;
pub mod dlq;
mod service;
mod suite;

use std::{future::Future, net::SocketAddr, sync::Arc};

use crm_kit::{
    bus::{Publisher, relay::Relay},
    server::{self, Serve},
};
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, sync::watch};

pub use crate::{
    service::{ServiceConfig, ServiceName, migrate, run_service},
    suite::{SuiteConfig, run_suite},
};

/// The address a client on this machine reaches `addr` at (a wildcard bind
/// is reached over loopback).
pub fn local_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    format!("http://{host}:{}", addr.port())
}

/// How often the pipeline looks for deals that outstayed their stage.
const STALL_SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Background work (outbox relays, consumers, schedulers) stops when this flips.
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Starts one outbox relay per database (named by its service, for the
/// metrics), publishing through `publisher`.
fn spawn_relays(dbs: &[(&str, DatabaseConnection)], publisher: Arc<dyn Publisher>, stop: &Stop) {
    for (service, db) in dbs {
        let relay = Relay::new(db.clone(), publisher.clone()).named(service);
        tokio::spawn(relay.run(stop.clone().wait()));
    }
}

/// Serves the gateway with `config` on `listener` until `shutdown`,
/// checking tokens as `auth` says, and keeps its health entries
/// current from the backends'.
async fn serve_gateway(
    listener: TcpListener,
    config: &crm_gateway::GatewayConfig,
    auth: &crm_kit::auth::AuthConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let verifier = crm_kit::auth::TokenVerifier::new(auth)?;
    let (gateway, health) = crm_gateway::Gateway::new(config, verifier)?;
    // Health answers from the first moment: one round before serving.
    gateway.check_backends(&health).await;
    let watcher = tokio::spawn(gateway.clone().watch_backends(health));
    let result = crm_gateway::serve(listener, gateway, shutdown).await;
    watcher.abort();
    result
}

/// Serves `what` until `shutdown`, then stops the background work.
async fn serve_then_stop(
    listener: TcpListener,
    what: Serve,
    shutdown: impl Future<Output = ()>,
    stop: watch::Sender<bool>,
) -> anyhow::Result<()> {
    let result = server::serve(listener, what, shutdown).await;
    let _ = stop.send(true);
    result
}
