//! A request body that stalls is ended: one that sends nothing (no frame,
//! no end) for [`BODY_IDLE_TIMEOUT`] fails with DEADLINE_EXCEEDED, so a
//! caller that opens a call and never sends its message holds a stream, a
//! task and a buffer for that long at most, not for ever.
//!
//! The services wrap every request body ([`StallLayer`]); the gateway wraps
//! the bodies it forwards or reads ([`StalledBody`]), and asks
//! [`StalledBody::stalled`] whether a failed forward was the caller's stall.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tonic::Status;

/// How long a request body may send nothing before the call is ended.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body that fails with DEADLINE_EXCEEDED when `idle` passes without a frame.
pub struct StalledBody<B> {
    inner: B,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    stalled: Arc<AtomicBool>,
    done: bool,
}

impl<B> StalledBody<B> {
    /// `inner`, ended after `idle` without a frame.
    pub fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            stalled: Arc::new(AtomicBool::new(false)),
            done: false,
        }
    }

    /// A flag that turns true when the body stalled.
    pub fn stalled(&self) -> Arc<AtomicBool> {
        self.stalled.clone()
    }
}

impl<B> Body for StalledBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(frame)) => {
                let deadline = Instant::now() + self.idle;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(Some(frame.map_err(Into::into)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    self.stalled.store(true, Ordering::Relaxed);
                    let status = Status::deadline_exceeded(format!(
                        "the request body sent nothing for {} s; the call is ended",
                        self.idle.as_secs()
                    ));
                    Poll::Ready(Some(Err(Box::new(status))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A tower layer that wraps every request body in a [`StalledBody`].
#[derive(Clone, Copy, Debug)]
pub struct StallLayer(pub Duration);

impl<S> tower::Layer<S> for StallLayer {
    type Service = Stall<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Stall { inner, idle: self.0 }
    }
}

/// The service of [`StallLayer`].
#[derive(Clone, Debug)]
pub struct Stall<S> {
    inner: S,
    idle: Duration,
}

impl<S, B> tower::Service<http::Request<B>> for Stall<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let idle = self.idle;
        self.inner
            .call(req.map(|b| tonic::body::Body::new(StalledBody::new(b, idle))))
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, StreamBody};
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;

    type Item = Result<Frame<Bytes>, BoxError>;

    fn body() -> (mpsc::Sender<Item>, StreamBody<ReceiverStream<Item>>) {
        let (tx, rx) = mpsc::channel(1);
        (tx, StreamBody::new(ReceiverStream::new(rx)))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_sends_nothing_fails_with_deadline_exceeded() {
        let (_tx, body) = body();
        let stalled = StalledBody::new(body, Duration::from_secs(10));
        let flag = stalled.stalled();
        let err = stalled.collect().await.unwrap_err();
        let status = err.downcast::<Status>().unwrap();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(flag.load(Ordering::Relaxed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_sending_is_not_cut() {
        let (tx, body) = body();
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(8)).await;
                tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await.unwrap();
            }
        });
        let all = StalledBody::new(body, Duration::from_secs(10)).collect().await.unwrap();
        assert_eq!(all.to_bytes().len(), 5);
    }
}
