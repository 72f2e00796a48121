//! Serving the gateway: gRPC and JSON, HTTP/1.1 and HTTP/2, on one port,
//! with every limit explicit (the values and the reasons are at
//! [`crm_kit::server`]): the header-list size, concurrent streams per
//! connection, HTTP/2 keep-alive, the HTTP/1.1 head's read timeout, and
//! connections that hold no call for [`IDLE_CONNECTION_TIMEOUT`] are closed.
//! A request body that stalls ends its call (see `forward`).

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crm_kit::server::{
    HEADER_READ_TIMEOUT, IDLE_CONNECTION_TIMEOUT, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, MAX_HEADER_LIST,
    MAX_STREAMS_PER_CONNECTION,
};
use http::Request;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

use crate::Gateway;

/// How long a stopping gateway lets its connections finish their calls.
const DRAIN: Duration = Duration::from_secs(10);

/// The connection settings of the gateway.
fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_LIST as usize);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT);
    builder
}

/// Serves `gateway` on `listener` (gRPC and JSON, HTTP/1.1 and HTTP/2 on
/// the one port) until `shutdown`, then lets in-flight calls finish.
pub async fn serve(listener: TcpListener, gateway: Gateway, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let builder = builder();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let open = Arc::new(AtomicUsize::new(0));
                let calls = Calls { gateway: gateway.clone(), open: open.clone() };
                let conn = builder.serve_connection(TokioIo::new(stream), calls).into_owned();
                connections.spawn(connection(conn, open, stopping.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    tracing::info!("gateway shutting down: finishing in-flight calls");
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        tracing::warn!(
            "calls still open {} s after the shutdown began; closing them",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// The gateway as a hyper service of one connection, counting the calls
/// open on it.
#[derive(Clone)]
struct Calls {
    gateway: Gateway,
    open: Arc<AtomicUsize>,
}

type Reply = http::Response<tonic::body::Body>;

impl hyper::service::Service<Request<Incoming>> for Calls {
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let (gateway, open) = (self.gateway.clone(), self.open.clone());
        Box::pin(async move {
            open.fetch_add(1, Ordering::Relaxed);
            let reply = gateway.handle(req).await;
            // The call is open until its reply's last frame went out.
            let ended = move |_| {
                open.fetch_sub(1, Ordering::Relaxed);
            };
            Ok(crm_kit::metrics::rpc::on_end(reply, ended))
        })
    }
}

type Connection = hyper_util::server::conn::auto::Connection<'static, TokioIo<TcpStream>, Calls, TokioExecutor>;

/// Drives one connection until it ends: closed gracefully when the gateway
/// stops, or when it has held no call for [`IDLE_CONNECTION_TIMEOUT`].
async fn connection(conn: Connection, calls: Arc<AtomicUsize>, mut stopping: watch::Receiver<bool>) {
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_secs(5).min(IDLE_CONNECTION_TIMEOUT));
    let (mut idle_since, mut closing) = (Instant::now(), false);
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick(), if !closing => {
                if calls.load(Ordering::Relaxed) > 0 {
                    idle_since = Instant::now();
                } else if idle_since.elapsed() >= IDLE_CONNECTION_TIMEOUT {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
