//! The one component that writes accepted events to ClickHouse.
//!
//! Handlers push rows onto a bounded queue and answer at once; a single task
//! drains the queue into one streaming INSERT per table (the crate's
//! `Inserter`), ended when it holds `flush_rows` rows or is `flush_period`
//! old, and at shutdown. A later disk spool slots in between the queue and
//! this task without changing the handlers.

use std::sync::Arc;
use std::time::Duration;

use clickhouse::inserter::Inserter;
use clickhouse::{Client, RowOwned, RowWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::instrument;

use crate::metrics::Metrics;

use super::rows::{self, CallRow, Event, FeedbackDailyRow, FeedbackRow, LetterRow, TimingRow};

/// Events taken off the queue in one go; bounds the work between commits.
const DRAIN_BATCH: usize = 1024;

/// When to end an INSERT.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    pub rows: u64,
    pub period: Duration,
}

/// The queue is full (or the writer has stopped): the caller answers 503.
#[derive(Debug, thiserror::Error)]
#[error("the queue to ClickHouse is full")]
pub struct QueueFull;

/// The handlers' end of the queue. Cheap to clone; the writer stops once every
/// clone is dropped and the queue is drained.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Event>,
}

impl Queue {
    pub fn push(&self, event: Event) -> Result<(), QueueFull> {
        self.tx.try_send(event).map_err(|_| QueueFull)
    }

    /// All or nothing: either every event is queued or none is.
    pub fn push_all(&self, events: Vec<Event>) -> Result<(), QueueFull> {
        if events.is_empty() {
            return Ok(());
        }
        let permits = self.tx.try_reserve_many(events.len()).map_err(|_| QueueFull)?;
        for (permit, event) in permits.zip(events) {
            permit.send(event);
        }
        Ok(())
    }

    /// Events waiting for the writer.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

pub struct Writer {
    task: JoinHandle<()>,
}

impl Writer {
    /// Starts the writer task and returns the queue that feeds it.
    pub fn start(client: &Client, capacity: usize, policy: FlushPolicy, metrics: Arc<Metrics>) -> (Queue, Writer) {
        let (tx, rx) = mpsc::channel(capacity);
        let stats = metrics;
        let tables = Tables {
            feedback: Table::new(client, rows::FEEDBACK, policy, &stats),
            timings: Table::new(client, rows::TIMINGS, policy, &stats),
            calls: Table::new(client, rows::CALLS, policy, &stats),
            letters: Table::new(client, rows::CORRESPONDENCE, policy, &stats),
            corrections: Table::new(client, rows::FEEDBACK_DAILY, policy, &stats),
        };
        // Checking a few times a period keeps the oldest row's wait close to `period`.
        let tick = (policy.period / 4).max(Duration::from_millis(10));
        let task = tokio::spawn(run(rx, tables, tick, stats));
        (Queue { tx }, Writer { task })
    }

    /// Waits until every queued event has been sent; call after the last
    /// [`Queue`] clone is dropped.
    pub async fn finish(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the ClickHouse writer panicked");
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Event>, mut tables: Tables, tick: Duration, metrics: Arc<Metrics>) {
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(DRAIN_BATCH);
    loop {
        tokio::select! {
            received = rx.recv_many(&mut batch, DRAIN_BATCH) => {
                if received == 0 {
                    break;
                }
                for event in batch.drain(..) {
                    tables.write(event).await;
                }
                tables.commit().await;
            }
            _ = ticker.tick() => tables.commit().await,
        }
        metrics.set_queue_depth(rx.len());
        if tables.idle() {
            metrics.progressed();
        }
    }
    tables.end().await;
    tracing::info!("ClickHouse writer drained and stopped");
}

struct Tables {
    feedback: Table<FeedbackRow>,
    timings: Table<TimingRow>,
    calls: Table<CallRow>,
    letters: Table<LetterRow>,
    corrections: Table<FeedbackDailyRow>,
}

impl Tables {
    async fn write(&mut self, event: Event) {
        match event {
            Event::Feedback(row) => self.feedback.write(&row).await,
            Event::Timing(row) => self.timings.write(&row).await,
            Event::Call(row) => self.calls.write(&row).await,
            Event::Letter(row) => self.letters.write(&row).await,
            Event::Correction(row) => self.corrections.write(&row).await,
        }
    }

    async fn commit(&mut self) {
        self.feedback.commit().await;
        self.timings.commit().await;
        self.calls.commit().await;
        self.letters.commit().await;
        // After the ratings: a correction never lands before what it corrects.
        self.corrections.commit().await;
    }

    /// Nothing written and unacknowledged: the writer is keeping up.
    fn idle(&self) -> bool {
        [self.feedback.unconfirmed, self.timings.unconfirmed, self.calls.unconfirmed, self.letters.unconfirmed]
            .into_iter()
            .chain([self.corrections.unconfirmed])
            .all(|n| n == 0)
    }

    async fn end(self) {
        self.feedback.end().await;
        self.timings.end().await;
        self.calls.end().await;
        self.letters.end().await;
        self.corrections.end().await;
    }
}

/// One table's streaming INSERT, made anew after a failure (an `Inserter`
/// that failed cannot be used again).
struct Table<T: RowOwned + RowWrite> {
    client: Client,
    name: &'static str,
    policy: FlushPolicy,
    inserter: Option<Inserter<T>>,
    /// Rows written into the current INSERT and not yet acknowledged; what a
    /// failure loses.
    unconfirmed: u64,
    metrics: Arc<Metrics>,
    label: crate::metrics::Table,
}

impl<T: RowOwned + RowWrite> Table<T> {
    fn new(client: &Client, name: &'static str, policy: FlushPolicy, metrics: &Arc<Metrics>) -> Self {
        let label = Metrics::table(name);
        Table { client: client.clone(), name, policy, inserter: None, unconfirmed: 0, metrics: metrics.clone(), label }
    }

    async fn write(&mut self, row: &T) {
        let (client, name, policy) = (&self.client, self.name, self.policy);
        let inserter = self.inserter.get_or_insert_with(|| {
            client.inserter::<T>(name).with_max_rows(policy.rows).with_period(Some(policy.period))
        });
        self.unconfirmed += 1;
        if let Err(e) = inserter.write(row).await {
            self.fail(e);
        }
    }

    #[instrument(skip_all, fields(table = self.name))]
    async fn commit(&mut self) {
        let Some(inserter) = self.inserter.as_mut() else { return };
        let started = std::time::Instant::now();
        match inserter.commit().await {
            Ok(done) => {
                if done.rows > 0 {
                    self.metrics.insert_seconds.get_or_create(&self.label).observe(started.elapsed().as_secs_f64());
                }
                self.done(done.rows)
            }
            Err(e) => self.fail(e),
        }
    }

    async fn end(mut self) {
        let Some(inserter) = self.inserter.take() else { return };
        match inserter.end().await {
            Ok(done) => self.done(done.rows),
            Err(e) => self.fail(e),
        }
    }

    fn done(&mut self, rows: u64) {
        if rows > 0 {
            self.unconfirmed = self.unconfirmed.saturating_sub(rows);
            tracing::debug!(table = self.name, rows, "INSERT done");
            self.metrics.rows_written.get_or_create(&self.label).inc_by(rows);
            self.metrics.progressed();
        }
    }

    fn fail(&mut self, error: clickhouse::error::Error) {
        self.inserter = None;
        let lost = std::mem::take(&mut self.unconfirmed);
        tracing::error!(table = self.name, rows = lost, error = %error, "INSERT failed; rows lost");
        self.metrics.rows_failed.get_or_create(&self.label).inc_by(lost);
        self.metrics.clickhouse_errors.get_or_create(&self.label).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rows::LetterRow;

    fn letter() -> Event {
        Event::Letter(LetterRow {
            event_id: uuid::Uuid::new_v4(),
            letter_id: "1".into(),
            received_at: 0,
            acknowledged_at: None,
            answered_at: None,
            updated_at: 0,
            journey: String::new(),
            stage: String::new(),
            touchpoint: "email".into(),
            process: String::new(),
            segment: 0,
        })
    }

    #[test]
    fn a_full_queue_refuses_instead_of_waiting_and_batches_are_all_or_nothing() {
        let (tx, _rx) = mpsc::channel(3);
        let queue = Queue { tx };
        queue.push(letter()).unwrap();
        queue.push(letter()).unwrap();

        assert!(queue.push_all(vec![letter(), letter()]).is_err(), "two do not fit in one free slot");
        assert_eq!(queue.depth(), 2, "nothing of the refused batch was queued");
        queue.push(letter()).unwrap();
        assert!(queue.push(letter()).is_err());
    }
}
