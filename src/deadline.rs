//! No request runs for ever: one that takes longer than `request_timeout` (a
//! stuck ClickHouse query, a body that stops coming) is stopped and answered
//! 503 `timeout` in our JSON shape.
//!
//! tower-http's `TimeoutLayer` does the same but starts a timer for every
//! request; a rating is answered within its first poll, so the timer here is
//! started only when the handler first has to wait. The limit counts from
//! then: what runs before is the handler's own work, done without waiting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::error::ApiError;

/// Applies [`Deadline`] to a service.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer(pub Duration);

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner, after: self.0 }
    }
}

#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Duration,
}

impl<S, R> tower::Service<R> for Deadline<S>
where
    S: tower::Service<R, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        DeadlineFuture { inner: self.inner.call(request), sleep: None, after: self.after }
    }
}

pin_project! {
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        after: Duration,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(*this.after)));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => {
                tracing::warn!(after = ?this.after, "a request took too long and was stopped");
                Poll::Ready(Ok(ApiError::TimedOut { after: *this.after }.into_response()))
            }
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Service as _, ServiceExt as _};

    #[tokio::test]
    async fn an_answer_in_time_passes_and_a_late_one_is_a_json_503() {
        let service = tower::service_fn(|wait: u64| async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, std::convert::Infallible>(Response::new(axum::body::Body::from("done")))
        });
        let mut service = tower::Layer::layer(&DeadlineLayer(Duration::from_millis(300)), service);
        let in_time = service.ready().await.unwrap().call(50).await.unwrap();
        assert_eq!(in_time.status(), 200);
        let late = service.ready().await.unwrap().call(2000).await.unwrap();
        assert_eq!(late.status(), 503);
        let body = axum::body::to_bytes(late.into_body(), 1024).await.unwrap();
        assert!(std::str::from_utf8(&body).unwrap().contains(r#""code":"timeout""#));
        let started = std::time::Instant::now();
        let _ = service.ready().await.unwrap().call(2000).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(1500), "stopped, not waited for");
    }
}
