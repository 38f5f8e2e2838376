//! The path of an accepted event to ClickHouse: handlers hand it to the
//! spool's appender and answer 202 once it is synced to disk; the shipper
//! inserts sealed segments and deletes them once ClickHouse confirmed them.
//! See `spool` (the log) and `shipper` (exactly-once delivery).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

use super::rows::Event;
use super::shipper::Shipper;
use super::spool::{self, Append, Refused, Shared, SpoolOptions};

/// The handlers' end of the spool. Cheap to clone; the spool seals its last
/// segment once every clone is dropped.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Append>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Returns once the event is on disk.
    pub async fn push(&self, event: Event) -> Result<(), Refused> {
        self.push_all(vec![event]).await
    }

    /// All or nothing: every event is on disk, in one record, or none is.
    pub async fn push_all(&self, events: Vec<Event>) -> Result<(), Refused> {
        if events.is_empty() {
            return Ok(());
        }
        let count = events.len() as u64;
        let (done, answer) = oneshot::channel();
        self.shared.waiting.fetch_add(1, Ordering::Relaxed);
        let sent = self.tx.try_send(Append { events, done });
        let result = match sent {
            Ok(()) => answer.await.unwrap_or(Err(Refused::Io)),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
                Err(Refused::Busy)
            }
        };
        match result {
            Ok(()) => {
                self.metrics.events_spooled.inc_by(count);
            }
            Err(refused) => self.metrics.refused(refused.reason()),
        }
        result
    }

    /// Requests waiting for the disk.
    pub fn depth(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }
}

pub struct Writer {
    appender: std::thread::JoinHandle<()>,
    shipper: JoinHandle<()>,
    drain_timeout: Duration,
}

impl Writer {
    /// Opens the spool (queueing what an earlier run left for shipping) and
    /// starts the appender and the shipper.
    pub fn start(
        client: &Client,
        options: SpoolOptions,
        drain_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Queue, Writer)> {
        let (tx, shared, appender) = spool::open(options)?;
        let shipper = Shipper { client: client.clone(), shared: shared.clone(), metrics: metrics.clone() };
        let shipper = tokio::spawn(shipper.run());
        metrics.watch_spool(shared.clone());
        Ok((Queue { tx, shared, metrics }, Writer { appender, shipper, drain_timeout }))
    }

    /// Call after the last [`Queue`] clone is dropped: waits for the last
    /// segment to be sealed and shipped. What ClickHouse has not taken within
    /// the drain timeout stays on disk and is shipped at the next start.
    pub async fn finish(self) {
        let appender = self.appender;
        if tokio::task::spawn_blocking(move || appender.join()).await.is_err() {
            tracing::error!("the spool appender panicked");
        }
        let mut shipper = self.shipper;
        match tokio::time::timeout(self.drain_timeout, &mut shipper).await {
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
