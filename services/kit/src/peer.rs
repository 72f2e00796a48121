//! Channels to the suite's other services (and the gateway's backends).
//!
//! A URL may name several replicas, comma-separated
//! (`http://pipeline-1:50051,http://pipeline-2:50051`): calls are then
//! spread over the replicas that answer, and a replica that goes away
//! (stopped, killed, rolled) is left out until it answers again. One URL is
//! one endpoint, as before; on Kubernetes that is the Service's address.

use std::time::Duration;

use anyhow::{Context, bail};
use tonic::transport::{Channel, Endpoint};

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
            .tcp_nodelay(true);
        if let Some(timeout) = timeout {
            endpoint = endpoint.timeout(timeout);
        }
        endpoints.push(endpoint);
    }
    match endpoints.len() {
        0 => bail!("no URL given"),
        1 => Ok(endpoints.remove(0).connect_lazy()),
        _ => Ok(Channel::balance_list(endpoints.into_iter())),
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
