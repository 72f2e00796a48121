//! Channels to the suite's other services (and the gateway's backends).
//!
//! A URL may name several replicas, comma-separated
//! (`http://pipeline-1:50051,http://pipeline-2:50051`): calls are then
//! spread over the replicas whose health service says SERVING. Each
//! replica's health is watched (`grpc.health.v1.Health/Watch`), so one that
//! is stopping (NOT_SERVING at SIGTERM) or gone (killed: its watch breaks)
//! leaves the rotation at once and comes back when it serves again. When
//! none is healthy, all stay in, so calls fail fast rather than wait. One
//! URL is one endpoint, as before; on Kubernetes that is the Service.

pub mod contacts;

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use tokio::sync::{Mutex, mpsc::Sender};
use tonic::transport::{Channel, Endpoint, channel::Change};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// A channel to `urls` (one URL, or several separated by commas) that
/// connects on first use, so a service starts even while its peers are
/// still coming up. A peer that cannot be reached fails a call within
/// `connect_timeout`; `timeout`, when given, bounds every call.
pub fn channel(urls: &str, connect_timeout: Duration, timeout: Option<Duration>) -> anyhow::Result<Channel> {
    let mut endpoints = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("{url:?} is not a URL"))?
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            // A reply's headers over the limit would end the connection
            // every call to this peer shares (see MAX_HEADER_LIST).
            .http2_max_header_list_size(crate::server::MAX_HEADER_LIST)
            // A peer that vanished without a FIN is found out, and the
            // channel reconnects instead of waiting on a dead connection.
            .http2_keep_alive_interval(crate::server::KEEPALIVE_INTERVAL)
            .keep_alive_timeout(crate::server::KEEPALIVE_TIMEOUT);
        if let Some(timeout) = timeout {
            endpoint = endpoint.timeout(timeout);
        }
        endpoints.push(endpoint);
    }
    match endpoints.len() {
        0 => bail!("no URL given"),
        1 => Ok(endpoints.remove(0).connect_lazy()),
        _ => Ok(balanced(endpoints)),
    }
}

/// The answer of a peer asked whether the `what` record `id` that the
/// caller's `field` names exists: NOT_FOUND (the caller's tenant has no
/// such record, or cannot see it) is FAILED_PRECONDITION
/// `REFERENCE_NOT_FOUND` naming the field; a peer that is down is
/// UNAVAILABLE naming it; anything else is INTERNAL (logged).
pub fn reference<T>(
    result: Result<T, tonic::Status>,
    field: &str,
    what: &str,
    id: &str,
    peer: &'static str,
) -> Result<T, crate::ApiError> {
    use tonic::Code;
    match result {
        Ok(found) => Ok(found),
        Err(s) if s.code() == Code::NotFound => Err(crate::ApiError::precondition(
            "REFERENCE_NOT_FOUND",
            field,
            format!("{field}: {what} {id} does not exist"),
        )),
        Err(s) if matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled) => {
            tracing::warn!(status = %s, peer, "peer unreachable");
            Err(crate::ApiError::Unavailable(peer))
        }
        Err(s) => Err(crate::ApiError::Internal(anyhow::anyhow!("{peer} answered {s}"))),
    }
}

/// Which replicas are healthy and which are in the balancer's rotation.
struct Rotation {
    endpoints: Vec<Endpoint>,
    healthy: Vec<bool>,
    inserted: Vec<bool>,
    changes: Sender<Change<usize, Endpoint>>,
}

impl Rotation {
    /// Records replica `i`'s health and brings the rotation in line: the
    /// healthy replicas, or every replica while none is.
    async fn set(&mut self, i: usize, healthy: bool) {
        self.healthy[i] = healthy;
        let any = self.healthy.iter().any(|h| *h);
        for j in 0..self.endpoints.len() {
            let want = self.healthy[j] || !any;
            if want == self.inserted[j] {
                continue;
            }
            let change = if want {
                Change::Insert(j, self.endpoints[j].clone())
            } else {
                Change::Remove(j)
            };
            if self.changes.send(change).await.is_ok() {
                self.inserted[j] = want;
                tracing::info!(peer = %self.endpoints[j].uri(), in_rotation = want, "peer replica changed");
            }
        }
    }
}

fn balanced(endpoints: Vec<Endpoint>) -> Channel {
    let n = endpoints.len();
    let (channel, changes) = Channel::balance_channel::<usize>(4 * n + 16);
    // Every replica is in until its health says otherwise.
    for (i, endpoint) in endpoints.iter().enumerate() {
        let _ = changes.try_send(Change::Insert(i, endpoint.clone()));
    }
    let rotation = Arc::new(Mutex::new(Rotation {
        endpoints: endpoints.clone(),
        healthy: vec![true; n],
        inserted: vec![true; n],
        changes: changes.clone(),
    }));
    for (i, endpoint) in endpoints.into_iter().enumerate() {
        tokio::spawn(watch(i, endpoint, rotation.clone(), changes.clone()));
    }
    channel
}

/// Follows replica `i`'s health until the channel is gone.
async fn watch(i: usize, endpoint: Endpoint, rotation: Arc<Mutex<Rotation>>, changes: Sender<Change<usize, Endpoint>>) {
    tokio::select! {
        () = changes.closed() => {}
        () = follow(i, &endpoint, &rotation) => {}
    }
}

/// Sets replica `i`'s health in `rotation` from its health service, for ever.
async fn follow(i: usize, endpoint: &Endpoint, rotation: &Mutex<Rotation>) {
    let overall = || HealthCheckRequest { service: String::new() };
    loop {
        if let Ok(conn) = endpoint.connect().await {
            match HealthClient::new(conn).watch(overall()).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    while let Ok(Some(reply)) = stream.message().await {
                        let serving = reply.status == ServingStatus::Serving as i32;
                        rotation.lock().await.set(i, serving).await;
                    }
                }
                // A peer without a health service: reachable is healthy.
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    rotation.lock().await.set(i, true).await;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                Err(_) => {}
            }
        }
        rotation.lock().await.set(i, false).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_or_several_urls_make_a_channel_and_nonsense_is_refused() {
        let second = Duration::from_secs(1);
        assert!(channel("http://127.0.0.1:1", second, None).is_ok());
        assert!(channel("http://127.0.0.1:1, http://127.0.0.1:2", second, Some(second)).is_ok());
        assert!(channel("", second, None).is_err());
        assert!(channel(" , ", second, None).is_err());
        assert!(channel("not a url at all", second, None).is_err());
    }
}
