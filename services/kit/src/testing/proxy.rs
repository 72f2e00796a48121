//! A TCP proxy for fault tests, between a service and what it depends on
//! (PostgreSQL, RabbitMQ): it passes bytes through, or delays them, or cuts
//! every connection and refuses new ones, or swallows traffic while holding
//! the connections open (a blackhole, as a partitioned network does).

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::watch,
};

/// What the proxy does to the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass.
    None,
    /// Each chunk waits this long before it is passed on.
    Latency(Duration),
    /// Every connection is cut, and new ones are closed at once.
    Down,
    /// Connections stay open, and nothing passes either way.
    Blackhole,
}

/// A proxy on a loopback port to `upstream`; stops when dropped.
pub struct FaultProxy {
    /// Where to connect instead of `upstream`.
    pub addr: SocketAddr,
    fault: watch::Sender<Fault>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`host:port`), passing bytes to begin with.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let (fault, watching) = watch::channel(Fault::None);
        let upstream = upstream.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, watching) = (upstream.clone(), watching.clone());
                tokio::spawn(async move {
                    if *watching.borrow() == Fault::Down {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pump(cr, sw, watching.clone()) => {}
                        () = pump(sr, cw, watching) => {}
                    }
                });
            }
        });
        Self { addr, fault, task }
    }

    /// From now on, `fault`.
    pub fn set(&self, fault: Fault) {
        let _ = self.fault.send(fault);
    }

    /// `url` with its `host:port` replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        redirect(url, self.addr)
    }
}

/// `url` with its `host:port` replaced by `addr`, user and path kept.
pub fn redirect(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!("{scheme}://{user}{addr}{path}")
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.fault.send(Fault::Down);
    }
}

/// Copies `from` to `to` as the fault says, until either side ends or the
/// proxy goes down.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut fault: watch::Receiver<Fault>) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = fault.changed() => {
                if changed.is_err() || *fault.borrow() == Fault::Down {
                    return;
                }
                continue;
            }
        };
        // Held while blackholed; cut when down.
        loop {
            let now = *fault.borrow_and_update();
            match now {
                Fault::Down => return,
                Fault::Blackhole => {
                    if fault.changed().await.is_err() {
                        return;
                    }
                }
                Fault::Latency(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Fault::None => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_points_at_the_proxy_keeping_user_and_path() {
        let addr: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        assert_eq!(
            redirect("postgres://postgres@127.0.0.1:5432/crm_test_x", addr),
            "postgres://postgres@127.0.0.1:5555/crm_test_x"
        );
        assert_eq!(
            redirect("amqp://guest:guest@127.0.0.1:5672/%2f", addr),
            "amqp://guest:guest@127.0.0.1:5555/%2f"
        );
    }

    #[tokio::test]
    async fn bytes_pass_are_held_in_a_blackhole_and_a_cut_connection_ends() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0_u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let proxy = FaultProxy::start(&upstream).await;
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        let mut buf = [0_u8; 4];
        c.write_all(b"ping").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        proxy.set(Fault::Blackhole);
        c.write_all(b"lost").await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await;
        assert!(held.is_err(), "nothing comes back through a blackhole");
        proxy.set(Fault::Down);
        let cut = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(cut, Ok(0) | Err(_)), "a cut connection ends: {cut:?}");
    }
}
