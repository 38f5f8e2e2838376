//! The one middleware of the capture routes and the public pages of follow
//! and history links: a rate limit per client address (public routes only)
//! and a count of every answer by endpoint and outcome.
//!
//! A plain tower layer rather than two `axum::middleware::from_fn` layers:
//! each of those clones and boxes the whole stack inside it on every request,
//! and with CORS in that stack the clones were about a tenth of a rating's
//! cost (BENCHMARKS.md, "Where the time goes").

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use tower::{Layer, Service};

use super::limits::Limits;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct GuardLayer {
    metrics: Arc<Metrics>,
    /// `None` on the staff routes, which a token guards instead.
    limits: Option<Arc<Limits>>,
}

impl GuardLayer {
    /// Counts answers and limits each client address.
    pub fn public(metrics: Arc<Metrics>, limits: Arc<Limits>) -> GuardLayer {
        GuardLayer { metrics, limits: Some(limits) }
    }

    /// Counts answers only.
    pub fn counting(metrics: Arc<Metrics>) -> GuardLayer {
        GuardLayer { metrics, limits: None }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner, layer: self.clone() }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    layer: GuardLayer,
}

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Counted<S::Future> {
        let metrics = self.layer.metrics.clone();
        let endpoint = metrics.endpoint(request.uri().path());
        let limited = self.layer.limits.as_ref().and_then(|limits| limits.check_request(&request).err());
        let state = match limited {
            Some(refusal) => State::Refused { response: Some(refusal.into_response()) },
            None => State::Inner { future: self.inner.call(request) },
        };
        Counted { state, metrics, endpoint }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, or the refusal, counted once it is ready.
    pub struct Counted<F> {
        #[pin]
        state: State<F>,
        metrics: Arc<Metrics>,
        endpoint: usize,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response> },
    }
}

impl<F> Future for Counted<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProj::Inner { future } => ready!(future.poll(cx))?,
            StateProj::Refused { response } => response.take().expect("a ready future is not polled again"),
        };
        this.metrics.count(*this.endpoint, &response);
        Poll::Ready(Ok(response))
    }
}
