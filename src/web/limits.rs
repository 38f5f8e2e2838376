//! Abuse protection: rate limits per client address and per site (governor),
//! with `X-Forwarded-For` believed only from configured proxies.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::error::ApiError;
use crate::server::Proxies;

/// How often keys whose buckets are full again are forgotten; this is what
/// bounds the limiters' memory to the clients seen in the last moments.
const FORGET_EVERY: Duration = Duration::from_secs(10);

pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// One bucket per configured site, made at start: a look-up by the
    /// site's name allocates nothing, and the map cannot grow.
    per_site: std::collections::HashMap<String, DefaultDirectRateLimiter>,
    proxies: Proxies,
    clock: DefaultClock,
}

fn quota(burst: u32, per_second: u32) -> Quota {
    let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(nz(per_second)).allow_burst(nz(burst))
}

impl Limits {
    /// Limits for the sites named by `sites` (the configured site keys).
    pub fn new<'a>(config: &LimitsConfig, sites: impl IntoIterator<Item = &'a String>) -> Arc<Limits> {
        let per_site = quota(config.per_site_burst, config.per_site_per_second);
        Arc::new(Limits {
            per_ip: RateLimiter::keyed(quota(config.per_ip_burst, config.per_ip_per_second)),
            per_site: sites.into_iter().map(|site| (site.clone(), RateLimiter::direct(per_site))).collect(),
            proxies: Proxies::new(&config.trusted_proxies),
            clock: DefaultClock::default(),
        })
    }

    /// Forgets idle keys now and then, for as long as `limits` is in use.
    pub fn spawn_janitor(limits: &Arc<Limits>) {
        let weak = Arc::downgrade(limits);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FORGET_EVERY);
            loop {
                every.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                limits.forget_idle();
            }
        });
    }

    /// Drops the keys whose buckets are full again: they behave as new keys would.
    fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
    }

    /// Addresses currently tracked, for tests and metrics.
    pub fn tracked_ips(&self) -> usize {
        self.per_ip.len()
    }

    /// One token from the bucket of the request's client address.
    pub fn check_request(&self, request: &Request) -> Result<(), ApiError> {
        self.check_ip(self.proxies.client_of(request))
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.per_ip.check_key(&ip).map_err(|wait| ApiError::RateLimited {
            scope: "address",
            retry_after: wait.wait_time_from(self.clock.now()),
        })
    }

    /// A token from the site's bucket. `site` is a configured site key
    /// (checked before this call); any other name is not limited here.
    pub fn check_site(&self, site: &str) -> Result<(), ApiError> {
        let Some(bucket) = self.per_site.get(site) else { return Ok(()) };
        bucket
            .check()
            .map_err(|wait| ApiError::RateLimited { scope: "site", retry_after: wait.wait_time_from(self.clock.now()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_addresses_are_forgotten() {
        let l = Limits::new(&LimitsConfig { per_ip_burst: 1, per_ip_per_second: 1000, ..LimitsConfig::default() }, &[]);
        for i in 0..50u8 {
            l.check_ip(IpAddr::from([198, 51, 100, i])).unwrap();
        }
        assert_eq!(l.tracked_ips(), 50);
        std::thread::sleep(Duration::from_millis(20)); // every bucket refills in 1 ms
        l.forget_idle();
        assert_eq!(l.tracked_ips(), 0);
    }

    #[test]
    fn a_burst_then_refusal_with_a_wait() {
        let l = Limits::new(&LimitsConfig { per_ip_burst: 3, per_ip_per_second: 1, ..LimitsConfig::default() }, &[]);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..3 {
            l.check_ip(ip).unwrap();
        }
        match l.check_ip(ip) {
            Err(ApiError::RateLimited { retry_after, .. }) => assert!(retry_after <= Duration::from_secs(1)),
            other => panic!("{other:?}"),
        }
        l.check_ip("198.51.100.2".parse().unwrap()).expect("other addresses are not affected");
    }
}
