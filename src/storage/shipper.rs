//! Ships sealed spool segments to ClickHouse, oldest first, and deletes each
//! once every one of its rows is confirmed.
//!
//! Exactly once: the rollups are fed by materialized views, so a row inserted
//! twice is counted twice there even though the ReplacingMergeTree tables
//! collapse it. A segment is therefore inserted blind only on its first
//! attempt. When an INSERT of it failed (ClickHouse may have stored it before
//! the connection broke) or the segment was found on disk at start (the
//! service may have died between the INSERT and the delete), the shipper first
//! reads which of its rows' (event id, version) pairs the table already holds
//! and inserts only the others; rows it found stored may have missed the
//! rollups' views, which `reconcile` then repairs.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clickhouse::Client;
use serde::Deserialize;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::EventKind;
use crate::metrics::Metrics;

use super::event_claims::{ClaimKey, Claimed, EventClaims};
use super::reconcile::{self, AlreadyStored};
use super::rows::{
    AnswersRow, CallRow, CaseRow, CorrectionRow, Event, FeedbackRow, LetterRow, OfferRow, ProofRow, Spooled, TimingRow,
    TouchRow,
};
use super::spool::{self, Sealed, Shared};

/// Segments shipped in one round at most, when a backlog has built up...
const ROUND_SEGMENTS: usize = 16;
/// ...and their bytes: a round is held decoded in memory, several times its
/// size on disk. A single segment is at most 4 MiB (`spool`).
const ROUND_BYTES: u64 = 4 << 20;
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(10);

pub(crate) struct Shipper {
    pub client: Client,
    /// On a cluster: a repair first waits for this replica to fetch what
    /// the others wrote (`reconcile::settle`).
    pub replicated: bool,
    pub shared: Arc<Shared>,
    pub metrics: Arc<Metrics>,
    /// Which instance's copy of an event is stored (`event_claims`).
    pub claims: EventClaims,
}

impl Shipper {
    /// Runs until the spool is closed and every segment is shipped.
    ///
    /// Two rounds overlap: while one settles its claims and is inserted, the
    /// next is read and claimed, so that under a backlog a round's claims
    /// have settled by the time its turn comes (`event_claims`).
    pub async fn run(self) {
        let mut retry = FIRST_RETRY;
        let mut next: Option<Prepared> = None;
        loop {
            // Read before the segments: `close` seals the last one, then sets it.
            let closed = self.shared.closed.load(Ordering::Acquire);
            let front = self.round(0);
            if front.is_empty() {
                if closed {
                    break;
                }
                self.metrics.progressed();
                let _ = tokio::time::timeout(Duration::from_millis(250), self.shared.notify.notified()).await;
                continue;
            }
            // The round prepared last time, if its segments are still the front ones.
            let ready = next.take().filter(|p| starts(&front, &p.round));
            let current = match ready {
                Some(prepared) => Ok(prepared),
                None => self.prepare(front.clone()).await,
            };
            let round = current.as_ref().map_or(front, |p| p.round.clone());
            let following = self.round(round.len());
            let (shipped, prepared) = tokio::join!(
                async {
                    match current {
                        Ok(prepared) => self.ship(prepared).await,
                        Err(e) => Err(e),
                    }
                },
                async { if following.is_empty() { None } else { self.prepare(following).await.ok() } }
            );
            match shipped {
                Ok(()) => {
                    retry = FIRST_RETRY;
                    next = prepared;
                    self.forget(&round);
                    self.metrics.progressed();
                    // Bounded: dropping old claims never holds up shipping for long.
                    if tokio::time::timeout(Duration::from_secs(30), self.claims.sweep()).await.is_err() {
                        tracing::warn!("dropping old event claims took over 30 s; left for the next hour");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, segments = round.len(), retry_in = ?retry, "cannot ship the spool to ClickHouse; retrying");
                    self.mark_maybe_stored(round.len());
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
        }
        tracing::info!("spool shipped and shipper stopped");
    }

    /// The sealed segments of a round, after the first `skip`: the oldest
    /// first, up to [`ROUND_SEGMENTS`] and [`ROUND_BYTES`].
    fn round(&self, skip: usize) -> Vec<Sealed> {
        let sealed = spool::lock(&self.shared.sealed);
        let mut bytes = 0;
        sealed
            .iter()
            .skip(skip)
            .take(ROUND_SEGMENTS)
            .take_while(|s| {
                bytes += s.bytes;
                bytes == s.bytes || bytes <= ROUND_BYTES
            })
            .cloned()
            .collect()
    }

    /// Reads a round's segments and claims its events.
    async fn prepare(&self, round: Vec<Sealed>) -> anyhow::Result<Prepared> {
        let paths: Vec<_> = round.iter().map(|s| s.path.clone()).collect();
        // Each event goes to its table's rows as it is decoded: the round is
        // held once in memory, not also as one list of every event.
        let tables = tokio::task::spawn_blocking(move || -> std::io::Result<Tables> {
            let mut tables = Tables::default();
            for path in paths {
                let damaged = spool::each_event(&path, |event| tables.add(event))?;
                if damaged > 0 {
                    // Only the unsynced tail of a crashed run: nothing in it was answered 202.
                    tracing::warn!(path = %path.display(), bytes = damaged, "spool segment ends in a torn record");
                }
            }
            Ok(tables)
        })
        .await??;
        let claimed =
            self.claims.claim(tables.keys()).await.inspect_err(|_| self.failed(&Metrics::table("event_claims")))?;
        Ok(Prepared { round, tables, claimed })
    }

    #[instrument(skip_all, fields(segments = prepared.round.len()))]
    async fn ship(&self, prepared: Prepared) -> anyhow::Result<()> {
        let Prepared { round, mut tables, claimed } = prepared;
        let lost = self.claims.lost(claimed).await.inspect_err(|_| self.failed(&Metrics::table("event_claims")))?;
        let elsewhere = tables.drop_claimed_elsewhere(&lost);
        if elsewhere > 0 {
            tracing::info!(rows = elsewhere, "events another instance stores (a retry through it) left out");
            self.metrics.stored_elsewhere.inc_by(elsewhere as u64);
        }
        let check = round.iter().any(|s| s.maybe_stored);
        // Ratings before the corrections that take earlier ratings back out.
        let feedback = self.table(tables.feedback, check).await?;
        let timings = self.table(tables.timings, check).await?;
        let calls = self.table(tables.calls, check).await?;
        // No rollup reads letters: what a replay finds of them needs no repair.
        self.table(tables.letters, check).await?;
        let corrections = self.table(tables.corrections, check).await?;
        // No rollup reads cases or touches either.
        let cases = self.new_cases(tables.cases).await?;
        self.table(cases, false).await?;
        self.table(tables.touches, check).await?;
        self.table(tables.proofs, check).await?;
        let answers = self.table(tables.answers, check).await?;
        let offers = self.table(tables.offers, check).await?;
        let found = AlreadyStored { feedback, timings, calls, corrections, answers, offers };
        if !found.is_empty() {
            // After every INSERT of the round, corrections included: the
            // rollups are compared with the raw tables as they now stand.
            self.repair(&found).await?;
        }
        Ok(())
    }

    /// Rows found stored may have reached their table without its views.
    async fn repair(&self, found: &AlreadyStored) -> anyhow::Result<()> {
        if self.replicated {
            reconcile::settle(&self.client).await.inspect_err(|_| self.failed(&Metrics::table("rollups")))?;
        }
        let repaired = reconcile::rollups(&self.client, found).await.inspect_err(|_| {
            self.failed(&Metrics::table("rollups"));
        })?;
        for (rollup, rows) in [
            ("feedback_daily", repaired.feedback_daily),
            ("calls_daily", repaired.calls_daily),
            ("stage_time_daily", repaired.stage_time_daily),
            ("answers_daily", repaired.answers_daily),
            ("offers_daily", repaired.offers_daily),
        ] {
            if rows > 0 {
                tracing::warn!(rollup, rows, "a rollup had missed rows its raw table holds; repaired");
                self.metrics.rollup_repairs.get_or_create(&Metrics::table(rollup)).inc_by(rows as u64);
            }
        }
        Ok(())
    }

    /// Inserts `rows`; when `check`, only those the table does not hold yet,
    /// and returns the others.
    #[instrument(skip_all, fields(table = T::TABLE, rows = rows.len()))]
    async fn table<T: Spooled>(&self, mut rows: Vec<T>, check: bool) -> anyhow::Result<Vec<T>> {
        let mut already = Vec::new();
        if rows.is_empty() {
            return Ok(already);
        }
        let label = Metrics::table(T::TABLE);
        if check {
            let stored = self.stored(&rows).await.inspect_err(|_| self.failed(&label))?;
            (already, rows) = rows.into_iter().partition(|row| stored.contains(&row.identity()));
            tracing::info!(
                table = T::TABLE,
                already = already.len(),
                inserting = rows.len(),
                "replayed segment checked"
            );
            if rows.is_empty() {
                return Ok(already);
            }
        }
        let started = Instant::now();
        let inserted = async {
            let mut insert = self.client.insert::<T>(T::TABLE).await?;
            for row in &rows {
                insert.write(row).await?;
            }
            insert.end().await
        }
        .await;
        inserted.inspect_err(|_| self.failed(&label))?;
        self.metrics.insert_seconds.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        self.metrics.rows_written.get_or_create(&label).inc_by(rows.len() as u64);
        Ok(already)
    }

    /// Those of `rows` that open a case no stored row has opened. A case
    /// belongs to the event that opened it: a later event of another kind
    /// posted with the same id (a rating with a call's id, learnt from a
    /// webhook) must not replace its unit, reason and deadlines, and a
    /// replayed row is stored already. Always checked, not only on retries:
    /// case rows are few, and only the stored table knows every kind's ids.
    async fn new_cases(&self, rows: Vec<CaseRow>) -> anyhow::Result<Vec<CaseRow>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        let ids: Vec<String> = rows.iter().map(|c| c.event_id.to_string()).collect();
        let sql = "SELECT event_id AS id, toUInt32(opened_at) AS v FROM cases WHERE event_id IN (SELECT toUUID(arrayJoin(?)))";
        let stored = self
            .client
            .query(sql)
            .bind(&ids)
            .fetch_all::<Stored>()
            .await
            .inspect_err(|_| self.failed(&Metrics::table(CaseRow::TABLE)))?;
        let mut seen: HashSet<Uuid> = stored.iter().map(|s| s.id).collect();
        let replays: HashSet<(Uuid, u32)> = stored.iter().map(|s| (s.id, s.v)).collect();
        let mut new = Vec::with_capacity(rows.len());
        let mut taken = 0;
        for row in rows {
            if seen.insert(row.event_id) {
                new.push(row);
            } else if !replays.contains(&(row.event_id, row.opened_at)) {
                taken += 1;
            }
        }
        if taken > 0 {
            tracing::warn!(rows = taken, "events carried the id of a case another event opened; no case row written");
        }
        Ok(new)
    }

    /// The (event id, version) pairs of `rows` the table holds already. The
    /// version range bounds the read; other writes in that range come along
    /// and are ignored.
    async fn stored<T: Spooled>(&self, rows: &[T]) -> clickhouse::error::Result<HashSet<(Uuid, u32)>> {
        let (low, high) = rows.iter().map(|r| r.identity().1).fold((u32::MAX, 0), |(l, h), v| (l.min(v), h.max(v)));
        let sql = format!(
            "SELECT event_id AS id, toUInt32({v}) AS v FROM {t} WHERE {v} >= toDateTime({low}) AND {v} <= toDateTime({high})",
            v = T::VERSION,
            t = T::TABLE,
        );
        let found = self.client.query(&sql).fetch_all::<Stored>().await?;
        Ok(found.into_iter().map(|s| (s.id, s.v)).collect())
    }

    fn failed(&self, label: &crate::metrics::Table) {
        self.metrics.clickhouse_errors.get_or_create(label).inc();
    }

    /// The round is in ClickHouse: delete its files.
    fn forget(&self, round: &[Sealed]) {
        let mut sealed = spool::lock(&self.shared.sealed);
        for segment in round {
            if let Err(e) = std::fs::remove_file(&segment.path) {
                // Shipped again, checked, at the next start: no double count.
                tracing::error!(path = %segment.path.display(), error = %e, "cannot delete a shipped spool segment");
            }
            sealed.pop_front();
            self.shared.bytes.fetch_sub(segment.bytes, Ordering::Relaxed);
        }
    }

    fn mark_maybe_stored(&self, count: usize) {
        let mut sealed = spool::lock(&self.shared.sealed);
        for segment in sealed.iter_mut().take(count) {
            segment.maybe_stored = true;
        }
    }
}

/// An event id and version as stored.
#[derive(clickhouse::Row, Deserialize)]
struct Stored {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    v: u32,
}

/// A round read and claimed, waiting for its claims to settle.
struct Prepared {
    round: Vec<Sealed>,
    tables: Tables,
    claimed: Claimed,
}

/// Whether `round` is the first segments of `front`.
fn starts(front: &[Sealed], round: &[Sealed]) -> bool {
    round.len() <= front.len() && round.iter().zip(front).all(|(x, y)| x.path == y.path)
}

#[derive(Default)]
struct Tables {
    /// The claim of each event that has one, with where its row is.
    claimed: Vec<(ClaimKey, Slot)>,
    feedback: Vec<FeedbackRow>,
    timings: Vec<TimingRow>,
    calls: Vec<CallRow>,
    letters: Vec<LetterRow>,
    corrections: Vec<CorrectionRow>,
    cases: Vec<CaseRow>,
    touches: Vec<TouchRow>,
    proofs: Vec<ProofRow>,
    answers: Vec<AnswersRow>,
    offers: Vec<OfferRow>,
}

/// A table of the round, and a row's place in it.
#[derive(Clone, Copy)]
struct Slot {
    table: u8,
    index: usize,
}

/// Keeps the rows of `rows` whose place `drop` does not name.
fn keep_others<T>(rows: &mut Vec<T>, table: u8, drop: &HashSet<(u8, usize)>) {
    let mut index = 0;
    rows.retain(|_| {
        index += 1;
        !drop.contains(&(table, index - 1))
    });
}

impl Tables {
    /// Every claim of the round, once.
    fn keys(&self) -> HashSet<ClaimKey> {
        self.claimed.iter().map(|(key, _)| *key).collect()
    }

    /// Drops the rows of the events in `lost` (another instance claimed
    /// them first), and the rows that travel with them (a call's rating, a
    /// case, a touch: the same event id, no claim of their own) unless an
    /// event of the round with that id was won. Returns the rows dropped.
    fn drop_claimed_elsewhere(&mut self, lost: &HashSet<ClaimKey>) -> usize {
        if lost.is_empty() {
            return 0;
        }
        let (lost_rows, won): (Vec<_>, Vec<_>) = self.claimed.iter().partition(|(key, _)| lost.contains(key));
        let won_ids: HashSet<Uuid> = won.iter().map(|(key, _)| key.id).collect();
        let gone: HashSet<Uuid> = lost.iter().map(|k| k.id).filter(|id| !won_ids.contains(id)).collect();
        // A call's rating and answers, and an e-mail rating's correction, go
        // with that event alone, whatever else of the round has its id.
        let lost_of = |kind: EventKind| -> HashSet<Uuid> {
            lost.iter().filter(|k| k.kind == kind.code() as u8).map(|k| k.id).collect()
        };
        let (lost_calls, lost_clicks) = (lost_of(EventKind::Call), lost_of(EventKind::EmailRating));
        let slots: HashSet<(u8, usize)> = lost_rows.iter().map(|(_, slot)| (slot.table, slot.index)).collect();
        let before = self.rows();
        keep_others(&mut self.feedback, 0, &slots);
        keep_others(&mut self.timings, 1, &slots);
        keep_others(&mut self.calls, 2, &slots);
        keep_others(&mut self.letters, 3, &slots);
        keep_others(&mut self.answers, 4, &slots);
        keep_others(&mut self.offers, 5, &slots);
        // Cases, touches and proofs go with their id when nothing of the
        // round with that id was stored here.
        let travelling = |id: &Uuid| !gone.contains(id);
        self.feedback.retain(|r| !r.site.is_empty() || !lost_calls.contains(&r.event_id));
        self.answers.retain(|r| !r.site.is_empty() || !lost_calls.contains(&r.event_id));
        self.corrections.retain(|r| !lost_clicks.contains(&r.event_id));
        self.cases.retain(|r| travelling(&r.event_id));
        self.touches.retain(|r| travelling(&r.event_id));
        self.proofs.retain(|r| travelling(&r.event_id));
        self.claimed.clear();
        before - self.rows()
    }

    fn rows(&self) -> usize {
        self.feedback.len()
            + self.timings.len()
            + self.calls.len()
            + self.letters.len()
            + self.corrections.len()
            + self.cases.len()
            + self.touches.len()
            + self.proofs.len()
            + self.answers.len()
            + self.offers.len()
    }

    fn add(&mut self, event: Event) {
        if let Some((key, version)) = super::key::identify(&event) {
            let (table, index) = match &event {
                Event::Feedback(_) => (0, self.feedback.len()),
                Event::Timing(_) => (1, self.timings.len()),
                Event::Call(_) => (2, self.calls.len()),
                Event::Letter(_) => (3, self.letters.len()),
                Event::Answers(_) => (4, self.answers.len()),
                Event::Offer(_) => (5, self.offers.len()),
                _ => (u8::MAX, 0),
            };
            let claim = ClaimKey { kind: key.kind.code() as u8, id: key.id, fingerprint: version.fingerprint };
            self.claimed.push((claim, Slot { table, index }));
        }
        match event {
            Event::Feedback(row) => self.feedback.push(row),
            Event::Timing(row) => self.timings.push(row),
            Event::Call(row) => self.calls.push(row),
            Event::Letter(row) => self.letters.push(row),
            Event::Correction(row) => self.corrections.push(row),
            Event::Case(row) => self.cases.push(row),
            Event::Touch(row) => self.touches.push(row),
            Event::Proof(row) => self.proofs.push(row),
            Event::Answers(row) => self.answers.push(row),
            Event::Offer(row) => self.offers.push(row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(id: Uuid, site: &str) -> Event {
        Event::Feedback(crate::storage::rows::sample_rating(id, site, 4))
    }

    fn call(id: Uuid) -> Event {
        Event::Call(CallRow {
            event_id: id,
            started_at: 1,
            received_at: 2,
            journey: "j".into(),
            stage: "s".into(),
            touchpoint: "phone".into(),
            process: String::new(),
            operator: String::new(),
            segment: 0,
            wait_seconds: 0,
            talk_seconds: 0,
            transfers: 0,
            resolved: 1,
            rating_scale: 1,
            rating_score: Some(4),
        })
    }

    fn claim(kind: EventKind, id: Uuid) -> ClaimKey {
        ClaimKey { kind: kind.code() as u8, id, fingerprint: 0 }
    }

    #[test]
    fn a_lost_call_takes_its_rating_along_but_not_a_widget_rating_of_the_same_id() {
        let (shared, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut tables = Tables::default();
        for event in [call(shared), rating(shared, ""), rating(shared, "demo"), rating(other, "demo")] {
            tables.add(event);
        }
        assert_eq!(tables.keys().len(), 3, "the call and the two widget ratings; the call's rating has no claim");

        let left_out = tables.drop_claimed_elsewhere(&HashSet::from([claim(EventKind::Call, shared)]));

        assert_eq!(left_out, 2, "the call and the rating given at its end");
        assert!(tables.calls.is_empty());
        let kept: Vec<(Uuid, &str)> = tables.feedback.iter().map(|r| (r.event_id, r.site.as_str())).collect();
        assert_eq!(kept, [(shared, "demo"), (other, "demo")]);
    }

    #[test]
    fn a_lost_rating_alone_is_left_out_and_nothing_else() {
        let (lost, kept) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut tables = Tables::default();
        for event in [rating(lost, "demo"), rating(kept, "demo"), call(kept)] {
            tables.add(event);
        }
        assert_eq!(tables.drop_claimed_elsewhere(&HashSet::from([claim(EventKind::Rating, lost)])), 1);
        assert_eq!(tables.feedback.iter().map(|r| r.event_id).collect::<Vec<_>>(), [kept]);
        assert_eq!(tables.calls.len(), 1);
    }
}
