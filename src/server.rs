//! Accepts connections and serves HTTP/1.1 on them, with the limits a public
//! endpoint needs against slow or greedy clients (`axum::serve` has none):
//! - a connection on which no request is being handled is closed once it
//!   has been so for `header_timeout` (at most half as long again): an idle
//!   keep-alive, a header that does not arrive whole, an answer the client
//!   does not read. A watchdog per connection checks this, rather than
//!   hyper's header time-out, which arms and drops a timer on every request
//!   (3.5 % of the instructions of a rating, by callgrind);
//! - a body must arrive within `request_timeout` (the request's own time-out,
//!   set in `startup::app`); a body the handler did not read is not waited
//!   for: the connection is closed after the answer;
//! - one address holds at most `max_connections_per_address` connections;
//!   past that, a new one is closed at once (a trusted proxy is exempt).
//!
//! Each request gets the peer's `ConnectInfo<SocketAddr>`, as axum's own
//! server gives it. At shutdown the listener closes, idle connections close,
//! and the caller bounds the wait for requests in flight.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The connection limits, from the config.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    /// Not applied to a trusted proxy, which carries many clients.
    pub max_connections_per_address: u32,
    pub proxies: Proxies,
}

/// The reverse proxies in front of the service (`limits.trusted_proxies`),
/// and who the client behind a connection is.
#[derive(Debug, Clone, Default)]
pub struct Proxies(Arc<[ipnet::IpNet]>);

impl Proxies {
    pub fn new(nets: &[ipnet::IpNet]) -> Proxies {
        Proxies(nets.into())
    }

    pub fn trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy,
    /// in which case the last address in `X-Forwarded-For` that is not
    /// itself a trusted proxy (earlier entries can be forged by the client).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        forwarded.into_iter().rev().find(|ip| !self.trusted(*ip)).unwrap_or(peer)
    }

    /// [`Proxies::client`] of a request served by [`serve`].
    pub fn client_of(&self, request: &Request) -> IpAddr {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        self.client(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), request.headers())
    }
}

/// Open connections per peer address.
#[derive(Default)]
struct Open(Mutex<HashMap<IpAddr, u32>>);

/// One open connection, counted until dropped.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn take(self: &Arc<Open>, ip: IpAddr, max: u32) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot { open: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Requests begun and answered on one connection, for its watchdog.
#[derive(Default)]
struct Activity {
    begun: AtomicU64,
    ended: AtomicU64,
}

impl Activity {
    /// Completes once no request has been in flight, and none has begun,
    /// for `limit` (checked every half of it, so within 1.5 times it).
    async fn quiet_for(self: Arc<Activity>, limit: Duration) {
        let period = limit / 2;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let (mut last, mut quiet) = (None, 0);
        loop {
            ticks.tick().await;
            let now = (self.begun.load(Ordering::Relaxed), self.ended.load(Ordering::Relaxed));
            // Nothing in flight, and nothing begun or answered since the last tick.
            quiet = if now.0 == now.1 && last == Some(now) { quiet + 1 } else { 0 };
            if quiet >= 2 {
                return;
            }
            last = Some(now);
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the
/// connections to finish their requests in flight.
pub async fn serve<S>(listener: TcpListener, app: S, limits: Limits, shutdown: impl Future<Output = ()>)
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let http = hyper::server::conn::http1::Builder::new();
    let open = Arc::new(Open::default());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = if limits.proxies.trusted(peer.ip()) {
            None
        } else if let Some(slot) = open.take(peer.ip(), limits.max_connections_per_address) {
            Some(slot)
        } else {
            tracing::debug!(%peer, "too many connections from this address; closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let seen = activity.clone();
        let begin = move |mut request: Request<_>| {
            seen.begun.fetch_add(1, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.map(axum::body::Body::new)
        };
        let seen = activity.clone();
        let end = move |response| {
            seen.ended.fetch_add(1, Ordering::Relaxed);
            response
        };
        let service = tower::ServiceBuilder::new().map_request(begin).map_response(end).service(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let quiet = activity.quiet_for(limits.header_timeout);
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    tracing::debug!(error = %e, %peer, "connection ended");
                },
                () = quiet => tracing::debug!(%peer, "connection closed: nothing handled on it for too long"),
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> Proxies {
        Proxies::new(&["10.0.0.0/8".parse().unwrap()])
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(proxies().client(peer, &xff("198.51.100.1")), peer);
    }

    #[test]
    fn the_last_untrusted_forwarded_address_is_the_client() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        // The client forged the first entry; our proxies appended the rest.
        let ip = proxies().client(peer, &xff("1.1.1.1, 198.51.100.7, 10.0.0.3"));
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    proptest::proptest! {
        /// Any X-Forwarded-For value yields an address: the peer's or one the header names.
        #[test]
        fn any_forwarded_for_header_is_handled(value in "[ -~]{0,200}") {
            let peer: IpAddr = "10.1.2.3".parse().unwrap();
            let mut headers = HeaderMap::new();
            if let Ok(v) = value.parse() {
                headers.insert("x-forwarded-for", v);
            }
            let ip = proxies().client(peer, &headers);
            proptest::prop_assert!(ip == peer || value.contains(&ip.to_string()) || value.contains(&ip.to_canonical().to_string()));
        }
    }
}
