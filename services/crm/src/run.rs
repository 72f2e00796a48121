//! What `crm serve` and `crm up` share once their services are built:
//! serving the gRPC side until shutdown and then stopping the background
//! work, serving the gateway, and the loopback URL of a listener.

use std::{future::Future, net::SocketAddr};

use crm_kit::{
    server::{self, Serve},
    startup::StopSwitch,
};
use tokio::net::TcpListener;

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

/// Serves `what` until `shutdown`, then stops the background work.
pub(crate) async fn serve_then_stop(
    listener: TcpListener,
    what: Serve,
    shutdown: impl Future<Output = ()>,
    stop: StopSwitch,
) -> anyhow::Result<()> {
    let result = server::serve(listener, what, shutdown).await;
    stop.stop();
    result
}

/// Serves the gateway with `config` on `listener` until `shutdown`,
/// checking tokens as `auth` says, and keeps its health entries
/// current from the backends'.
pub(crate) async fn serve_gateway(
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
