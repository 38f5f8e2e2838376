//! What each target still owes, read from ClickHouse: the case events (the
//! `cases` rows and their `case_changes`) within the give-up window that have
//! no final record in `deliveries`, or whose last failed attempt is due
//! again. Nothing is queued in memory, so a restart or an outage forgets
//! nothing; a delivery whose record was lost is sent once more.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::message::CaseEvent;
use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Tried again at `next_at`.
    Failed,
    /// Given up: too long after the event.
    Dead,
    /// Nothing to send (a digest with no overdue case).
    Skipped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One attempt to deliver event `event_id` to a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub event_id: String,
    /// 1 for the first.
    pub number: u32,
    /// Unix seconds.
    pub at: u32,
    pub outcome: Outcome,
    /// Unix milliseconds; 0 unless `Failed`.
    pub next_at: u64,
    pub error: String,
}

#[derive(Row, Serialize, Deserialize)]
struct DeliveryRow {
    target: String,
    event_id: String,
    attempt: u32,
    at: u32,
    outcome: String,
    next_at: u64,
    error: String,
}

/// Which case events a target receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Openings and changes of every case (a webhook).
    Everything,
    /// Openings of the cases of one unit (its mailbox).
    OpenedIn(String),
    /// Answers (the clients who asked to be told).
    Answers,
}

/// A case event still owed, with the attempts made so far.
pub struct Due {
    pub event: CaseEvent,
    pub tries: u32,
}

#[derive(Row, Deserialize)]
struct DueRow {
    id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    case_id: Uuid,
    action: String,
    at: u32,
    by: String,
    text: String,
    resolution: String,
    tries: u32,
}

/// The `deliveries` table and the case events it is kept against.
#[derive(Clone)]
pub struct Deliveries {
    storage: Storage,
}

/// Case openings and changes since a time, each with its latest attempt for
/// one target (none: `last_outcome` empty). Binds: openings wanted (0/1),
/// since, unit filter (twice), changes wanted (0/1), since, action filter
/// (twice), target, now in ms, limit. Run on current ClickHouse by
/// `tests/it/migrations.rs` too.
pub const DUE: &str = "
SELECT id, case_id, action, at, by, text, resolution, tries FROM (
    SELECT toString(event_id) AS id, event_id AS case_id, 'opened' AS action, opened_at AS at,
           '' AS `by`, '' AS text, '' AS resolution
    FROM cases FINAL WHERE ? = 1 AND opened_at >= toDateTime(?) AND (? = '' OR unit = ?)
    UNION ALL
    SELECT toString(change_id) AS id, case_id, action, at, `by`, text, resolution
    FROM case_changes FINAL WHERE ? = 1 AND at >= toDateTime(?) AND (? = '' OR action = ?)
) AS events ANY LEFT JOIN (
    SELECT event_id AS id, max(attempt) AS tries, argMax(outcome, attempt) AS last_outcome,
           argMax(next_at, attempt) AS due_at
    FROM deliveries WHERE target = ? GROUP BY event_id
) AS tried USING id
WHERE last_outcome = '' OR (last_outcome = 'failed' AND due_at <= ?)
ORDER BY at, id
LIMIT ?";

impl Deliveries {
    pub fn new(storage: Storage) -> Deliveries {
        Deliveries { storage }
    }

    /// Up to `limit` events owed to `target` that happened at or after
    /// `since` (unix seconds) and are due at `now_ms`, oldest first.
    pub async fn due(
        &self,
        target: &str,
        scope: &Scope,
        since: u32,
        now_ms: u64,
        limit: u64,
    ) -> Result<Vec<Due>, StorageError> {
        let (opened, unit, changes, action) = match scope {
            Scope::Everything => (1u8, "", 1u8, ""),
            Scope::OpenedIn(unit) => (1, unit.as_str(), 0, ""),
            Scope::Answers => (0, "", 1, "answer"),
        };
        let rows: Vec<DueRow> = self
            .storage
            .client()
            .query(DUE)
            .bind(opened)
            .bind(since)
            .bind(unit)
            .bind(unit)
            .bind(changes)
            .bind(since)
            .bind(action)
            .bind(action)
            .bind(target)
            .bind(now_ms)
            .bind(limit)
            .fetch_all()
            .await?;
        let cases = self.cases(rows.iter().map(|r| r.case_id)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let case = cases.iter().find(|c| c.event_id == r.case_id)?.clone();
                let event = CaseEvent {
                    id: r.id,
                    action: r.action,
                    at: r.at,
                    case,
                    by: r.by,
                    text: r.text,
                    resolution: r.resolution,
                };
                Some(Due { event, tries: r.tries })
            })
            .collect())
    }

    async fn cases(&self, ids: impl Iterator<Item = Uuid>) -> Result<Vec<CaseRow>, StorageError> {
        let mut ids: Vec<String> = ids.map(|id| id.to_string()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .storage
            .client()
            .query("SELECT ?fields FROM cases FINAL WHERE event_id IN (SELECT toUUID(arrayJoin(?)))")
            .bind(ids)
            .fetch_all()
            .await?)
    }

    /// The latest attempt at `event_id` for `target`, if any.
    pub async fn last(&self, target: &str, event_id: &str) -> Result<Option<Attempt>, StorageError> {
        let row: Option<DeliveryRow> = self
            .storage
            .client()
            .query("SELECT ?fields FROM deliveries WHERE target = ? AND event_id = ? ORDER BY attempt DESC LIMIT 1")
            .bind(target)
            .bind(event_id)
            .fetch_optional()
            .await?;
        Ok(row.map(|r| Attempt {
            number: r.attempt,
            at: r.at,
            outcome: match r.outcome.as_str() {
                "delivered" => Outcome::Delivered,
                "dead" => Outcome::Dead,
                "skipped" => Outcome::Skipped,
                _ => Outcome::Failed,
            },
            next_at: r.next_at,
            error: r.error,
            event_id: r.event_id,
        }))
    }

    pub async fn record(&self, target: &str, attempt: &Attempt) -> Result<(), StorageError> {
        let row = DeliveryRow {
            target: target.into(),
            event_id: attempt.event_id.clone(),
            attempt: attempt.number,
            at: attempt.at,
            outcome: attempt.outcome.name().into(),
            next_at: attempt.next_at,
            error: attempt.error.clone(),
        };
        self.storage.insert_one("deliveries", &row).await
    }
}
