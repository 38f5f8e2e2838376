//! The path of an accepted event to ClickHouse: handlers append it to the
//! spool and answer 202 once it is synced to disk; the shipper inserts sealed
//! segments and deletes them once ClickHouse confirmed them. See `spool` (the
//! log, group commit) and `shipper` (exactly-once delivery).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::metrics::Metrics;

use super::Storage;
use super::event_claims::EventClaims;
use super::rows::Event;
use super::shipper::Shipper;
use super::spool::{self, Refused, Spool, SpoolOptions};

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Durable storage of accepted rows, as the ingest path sees it: the spool
/// ([`Queue`]) in production.
pub trait Outbox: Send + Sync {
    /// Returns once every event is on disk, in one record, or none is.
    fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), Refused>>;
}

/// The handlers' end of the spool; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// All or nothing: every event is on disk, in one record, or none is.
    pub async fn push_all(&self, events: Vec<Event>) -> Result<(), Refused> {
        if events.is_empty() {
            return Ok(());
        }
        let result = self.spool.append(&events).await;
        match &result {
            Ok(()) => {
                self.metrics.events_spooled.inc_by(events.len() as u64);
            }
            Err(refused) => self.metrics.refused(refused.reason()),
        }
        result
    }
}

impl Outbox for Queue {
    fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(self.push_all(events))
    }
}

pub struct Writer {
    spool: Arc<Spool>,
    ticker: JoinHandle<()>,
    shipper: JoinHandle<()>,
    drain_timeout: Duration,
}

impl Writer {
    /// Opens the spool (queueing what an earlier run left for shipping),
    /// shows `unshipped` every event an earlier run left in it, then starts
    /// the shipper: what the dedupe memory must know is read before any of
    /// it can be shipped and deleted.
    pub fn start(
        storage: &Storage,
        options: SpoolOptions,
        drain_timeout: Duration,
        metrics: Arc<Metrics>,
        unshipped: &dyn Fn(&Event),
    ) -> std::io::Result<(Queue, Writer)> {
        let tick = (options.segment_period / 4).max(Duration::from_millis(10));
        let replicated = storage.cluster().is_some();
        let (dir, kept) = (options.dir.clone(), options.claims_kept);
        let spool = spool::open(options)?;
        // The spool folder exists now: its claimant is kept in it.
        let claims = EventClaims::new(storage.client().clone(), super::event_claims::claimant(&dir)?, replicated, kept);
        let shared = spool.shared.clone();
        let leftovers: Vec<_> = spool::lock(&shared.sealed).iter().map(|s| s.path.clone()).collect();
        for path in leftovers {
            // A segment that does not read stays for the shipper, which reports it.
            let _ = spool::each_event(&path, |event| unshipped(&event));
        }
        let shipper = Shipper {
            client: storage.client().clone(),
            replicated,
            shared: shared.clone(),
            metrics: metrics.clone(),
            claims,
        };
        let shipper = tokio::spawn(shipper.run());
        let ticking = Arc::downgrade(&spool);
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(spool) = ticking.upgrade() else { break };
                // Preallocating a segment writes megabytes: not on a runtime worker.
                let _ = tokio::task::spawn_blocking(move || spool.tick()).await;
            }
        });
        metrics.watch_spool(move || shared.reading());
        Ok((Queue { spool: spool.clone(), metrics }, Writer { spool, ticker, shipper, drain_timeout }))
    }

    /// Call once the HTTP server has stopped: seals the last segment and ships
    /// until `deadline` (at the latest the drain timeout from now). What
    /// ClickHouse has not taken by then stays on disk and ships at the next start.
    pub async fn finish(self, deadline: tokio::time::Instant) {
        let deadline = deadline.min(tokio::time::Instant::now() + self.drain_timeout);
        self.ticker.abort();
        let spool = self.spool;
        if tokio::task::spawn_blocking(move || spool.close()).await.is_err() {
            tracing::error!("closing the spool panicked");
        }
        let mut shipper = self.shipper;
        match tokio::time::timeout_at(deadline, &mut shipper).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the spool shipper panicked"),
            Err(_) => {
                shipper.abort();
                tracing::warn!(
                    timeout = ?self.drain_timeout,
                    "ClickHouse did not take the whole spool before the drain timeout; the rest ships at the next start"
                );
            }
        }
    }
}
