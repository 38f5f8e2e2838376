//! `/metrics` in the Prometheus (OpenMetrics) text format: what was accepted
//! and refused and why, what reached ClickHouse, how long INSERTs take, what
//! waits in the spool and for how long. Counters are cheap atomics; the
//! gauges are read at scrape time, through probes their owners (the spool,
//! the dedupe memory) hand over, so this module imports neither. Served by
//! `health::metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Static strings: counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// The route, e.g. `/api/v1/feedback`.
    pub endpoint: &'static str,
    /// `accepted`, or the error code (`invalid`, `rate_limited`, `overloaded`, ...).
    pub outcome: &'static str,
}

/// The capture routes by name; anything else counts as `other`.
const ENDPOINTS: &[&str] = &[
    "/api/v1/feedback",
    "/api/v1/timings",
    "/r/{token}",
    "/api/v1/calls",
    "/api/v1/correspondence",
    "/api/v1/email-links",
    "other",
];

/// Every outcome a capture answer can have: `accepted` and the error codes.
pub(crate) const OUTCOMES: &[&str] = &[
    "accepted",
    "malformed",
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "rate_limited",
    "overloaded",
    "unavailable",
    "timeout",
    "internal",
    "client_error",
    "server_error",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Table {
    pub table: String,
}

/// A notification target (`webhook:<name>`, `mail:<unit>`, `digest:<unit>`)
/// and how an attempt ended (`delivered`, `failed`, `dead`, `skipped`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Delivery {
    pub target: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// `busy` (too many requests waiting for the disk), `disk_cap`, `io`.
    pub reason: &'static str,
}

fn insert_buckets() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<Outcome, Counter>,
    /// Handles on every endpoint × outcome counter, made once: counting a
    /// request is one atomic add, with no map lookup or lock on the hot path.
    request_counters: Vec<Counter>,
    /// Events written to the spool (a 202 was or is about to be sent).
    pub events_spooled: Counter,
    refused: Family<Reason, Counter>,
    pub rows_written: Family<Table, Counter>,
    pub clickhouse_errors: Family<Table, Counter>,
    pub insert_seconds: Family<Table, Histogram, fn() -> Histogram>,
    /// Rows written into a rollup to make it agree with its raw table.
    pub rollup_repairs: Family<Table, Counter>,
    /// Rows left out of a round because another instance stores their event.
    pub stored_elsewhere: Counter,
    notifications: Family<Delivery, Counter>,
    sync_waiting: Gauge,
    dedupe_ids: Gauge,
    dedupe_evicted: Gauge,
    spool_bytes: Gauge,
    spool_oldest_age: Gauge,
    last_progress_age: Gauge,
    /// Seconds since the epoch when the shipper last had nothing waiting or
    /// shipped a round; a shipper that stops advancing it is stalled.
    last_progress: AtomicU64,
    spool: OnceLock<Probe<SpoolReading>>,
    dedupe: OnceLock<Probe<DedupeReading>>,
}

/// A reading the gauges take at each scrape from what their owner exposes.
type Probe<T> = Box<dyn Fn() -> T + Send + Sync>;

/// What the spool gauges report.
pub struct SpoolReading {
    /// Requests waiting for their records to be synced.
    pub waiting: u64,
    /// Bytes of records in the spool's segments.
    pub bytes: u64,
    /// When its oldest record was written (ms since the epoch); `None` when empty.
    pub oldest_ms: Option<u64>,
}

/// What the dedupe gauges report.
pub struct DedupeReading {
    /// Event ids remembered.
    pub ids: u64,
    /// Ids forgotten early to stay within the memory bound, since start.
    pub evicted: u64,
}

/// The error code of an answer, kept in the response's extensions for the
/// metrics middleware (`error::ApiError` puts it there).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl Metrics {
    /// Every family registered with its help text, one after another: a
    /// flat list (91 lines) that reads as the `/metrics` page it makes;
    /// split, a family's name, help and field would sit apart.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("touchpoint");
        let requests = Family::<Outcome, Counter>::default();
        let events_spooled = Counter::default();
        let refused = Family::<Reason, Counter>::default();
        let rows_written = Family::<Table, Counter>::default();
        let clickhouse_errors = Family::<Table, Counter>::default();
        let insert_seconds = Family::<Table, Histogram, fn() -> Histogram>::new_with_constructor(insert_buckets);
        let rollup_repairs = Family::<Table, Counter>::default();
        let stored_elsewhere = Counter::default();
        let notifications = Family::<Delivery, Counter>::default();
        let sync_waiting = Gauge::default();
        let dedupe_ids = Gauge::default();
        let dedupe_evicted = Gauge::default();
        let spool_bytes = Gauge::default();
        let spool_oldest_age = Gauge::default();
        let last_progress_age = Gauge::default();
        registry.register("capture_requests", "Capture requests by endpoint and outcome", requests.clone());
        registry.register("events_spooled", "Events synced to the spool and accepted", events_spooled.clone());
        registry.register("events_refused", "Events refused with 503, by reason", refused.clone());
        registry.register("rows_written", "Rows ClickHouse acknowledged, by table", rows_written.clone());
        registry.register("clickhouse_errors", "Failed INSERTs or replay checks, by table", clickhouse_errors.clone());
        registry.register("insert_seconds", "Time of one INSERT, by table", insert_seconds.clone());
        registry.register(
            "rollup_repairs",
            "Rows added to a rollup that had missed rows of its raw table (ClickHouse stopped mid-INSERT), by rollup",
            rollup_repairs.clone(),
        );
        registry.register(
            "events_stored_elsewhere",
            "Rows the shipper left out because another instance claimed their event first (a retry through it)",
            stored_elsewhere.clone(),
        );
        registry.register(
            "notifications",
            "Attempts to deliver a case event or digest, by target and outcome (dead: given up)",
            notifications.clone(),
        );
        registry.register(
            "spool_sync_waiting",
            "Requests waiting for a group sync; only with spool.sync_interval = 0s, else always 0",
            sync_waiting.clone(),
        );
        registry.register("dedupe_ids", "Event ids the dedupe layer remembers", dedupe_ids.clone());
        registry.register(
            "dedupe_evicted",
            "Event ids forgotten before their dedupe window ended (capture.dedupe_ids reached), since start",
            dedupe_evicted.clone(),
        );
        registry.register("spool_bytes", "Bytes of spool segments on disk", spool_bytes.clone());
        registry.register(
            "spool_oldest_age_seconds",
            "Age of the oldest spool segment not yet in ClickHouse; 0 when none",
            spool_oldest_age.clone(),
        );
        registry.register(
            "writer_progress_age_seconds",
            "Seconds since the shipper last shipped or was idle",
            last_progress_age.clone(),
        );
        for reason in ["busy", "disk_cap", "io"] {
            let _ = refused.get_or_create(&Reason { reason });
        }
        let request_counters = ENDPOINTS
            .iter()
            .flat_map(|endpoint| OUTCOMES.iter().map(move |outcome| (*endpoint, *outcome)))
            .map(|(endpoint, outcome)| requests.get_or_create_owned(&Outcome { endpoint, outcome }))
            .collect();
        Arc::new(Metrics {
            registry,
            requests,
            request_counters,
            events_spooled,
            refused,
            rows_written,
            clickhouse_errors,
            insert_seconds,
            rollup_repairs,
            stored_elsewhere,
            notifications,
            sync_waiting,
            dedupe_ids,
            dedupe_evicted,
            spool_bytes,
            spool_oldest_age,
            last_progress_age,
            last_progress: AtomicU64::new(now()),
            spool: OnceLock::new(),
            dedupe: OnceLock::new(),
        })
    }

    pub fn table(name: &str) -> Table {
        Table { table: name.to_string() }
    }

    /// Counts one delivery attempt.
    pub fn notified(&self, target: &str, outcome: &'static str) {
        self.notifications.get_or_create(&Delivery { target: target.into(), outcome }).inc();
    }

    /// The writer calls this when it finished an INSERT or had nothing to send.
    pub fn progressed(&self) {
        self.last_progress.store(now(), Ordering::Relaxed);
    }

    /// The spool whose size and age the gauges report, read by `probe`.
    pub fn watch_spool(&self, probe: impl Fn() -> SpoolReading + Send + Sync + 'static) {
        let _ = self.spool.set(Box::new(probe));
    }

    /// The dedupe memory whose size the gauges report, read by `probe`.
    pub fn watch_dedupe(&self, probe: impl Fn() -> DedupeReading + Send + Sync + 'static) {
        let _ = self.dedupe.set(Box::new(probe));
    }

    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&Reason { reason }).inc();
    }

    /// How long the writer has not progressed; `None` while it keeps up.
    pub fn stalled_for(&self, limit: Duration) -> Option<Duration> {
        stalled(self.last_progress.load(Ordering::Relaxed), now(), limit)
    }

    pub fn render(&self) -> Result<String, std::fmt::Error> {
        if let Some(probe) = self.spool.get() {
            let spool = probe();
            self.sync_waiting.set(spool.waiting as i64);
            self.spool_bytes.set(spool.bytes as i64);
            let now_ms =
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
            let age = spool.oldest_ms.map_or(0, |oldest| now_ms.saturating_sub(oldest) / 1000);
            self.spool_oldest_age.set(age as i64);
        }
        if let Some(probe) = self.dedupe.get() {
            let memory = probe();
            self.dedupe_ids.set(memory.ids as i64);
            self.dedupe_evicted.set(memory.evicted as i64);
        }
        self.last_progress_age.set(now().saturating_sub(self.last_progress.load(Ordering::Relaxed)) as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn stalled(last: u64, now: u64, limit: Duration) -> Option<Duration> {
    let age = Duration::from_secs(now.saturating_sub(last));
    (age > limit).then_some(age)
}

impl Metrics {
    /// The index of a capture route among the counted endpoints (`other`
    /// for anything else), from the request's path; resolved once per
    /// request, before the handler. From the path rather than axum's
    /// `MatchedPath`, which costs an extension (an allocation) per request.
    pub fn endpoint(&self, path: &str) -> usize {
        let route = if path.starts_with("/r/") { "/r/{token}" } else { path };
        ENDPOINTS.iter().position(|e| *e == route).unwrap_or(ENDPOINTS.len() - 1)
    }

    /// Counts one answer of `endpoint` by its outcome: one atomic add.
    pub fn count(&self, endpoint: usize, response: &Response) {
        let outcome = match response.extensions().get::<ErrorCode>() {
            Some(ErrorCode(code)) => code,
            None if response.status().is_success() => "accepted",
            None if response.status().is_client_error() => "client_error",
            None => "server_error",
        };
        let outcome = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(OUTCOMES.len() - 1);
        self.request_counters[endpoint.min(ENDPOINTS.len() - 1) * OUTCOMES.len() + outcome].inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_stalled_only_past_the_limit() {
        assert_eq!(stalled(100, 120, Duration::from_secs(30)), None);
        assert_eq!(stalled(100, 131, Duration::from_secs(30)), Some(Duration::from_secs(31)));
        assert_eq!(stalled(200, 100, Duration::from_secs(30)), None, "a clock step back is not a stall");
    }

    #[test]
    fn the_text_names_every_family() {
        let m = Metrics::new();
        m.rows_written.get_or_create(&Metrics::table("feedback")).inc_by(3);
        m.watch_spool(|| SpoolReading { waiting: 7, bytes: 4096, oldest_ms: None });
        m.refused("disk_cap");
        let text = m.render().unwrap();
        assert!(text.contains("touchpoint_rows_written_total{table=\"feedback\"} 3"), "{text}");
        assert!(text.contains("touchpoint_spool_sync_waiting 7"), "{text}");
        assert!(text.contains("touchpoint_spool_bytes 4096"), "{text}");
        assert!(text.contains("touchpoint_spool_oldest_age_seconds 0"), "{text}");
        assert!(text.contains("touchpoint_events_refused_total{reason=\"disk_cap\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
