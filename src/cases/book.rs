//! The cases and their logs in ClickHouse: what the case routes read and
//! append to. A change is stored before it is answered; its id makes a retry
//! collapse into the same row.

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::queue::{Context, QueueQuery};
use super::status::{Action, Change, Resolution, State};
use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

/// A row of `case_changes`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub struct ChangeRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub case_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub change_id: Uuid,
    pub seq: u32,
    pub at: u32,
    pub by: String,
    pub action: String,
    pub text: String,
    pub resolution: String,
}

/// Clients' ratings of the answers at one stage.
#[derive(Debug, Row, Deserialize)]
pub struct Handling {
    pub stage: String,
    pub n: u64,
    pub total: u64,
}

/// Cases and their logs. Changes go through [`super::Desk`] alone, which
/// makes them one at a time.
#[derive(Clone)]
pub struct CaseBook {
    storage: Storage,
}

impl CaseBook {
    pub fn new(storage: Storage) -> CaseBook {
        CaseBook { storage }
    }

    /// A page of the queue, each case with its state (`queue`).
    pub async fn queue(&self, query: &QueueQuery) -> Result<Vec<(CaseRow, State)>, StorageError> {
        super::queue::page(&self.storage, query).await
    }

    /// What opened each of `cases`.
    pub async fn contexts(&self, cases: &[&CaseRow]) -> Result<Vec<(Uuid, Context)>, StorageError> {
        super::queue::contexts(&self.storage, cases).await
    }

    /// The cases of `journey` opened in [from, to) (unix seconds).
    pub async fn opened(&self, journey: &str, from: u32, to: u32) -> Result<Vec<CaseRow>, StorageError> {
        Ok(self
            .storage
            .client()
            .query(
                "SELECT ?fields FROM cases FINAL WHERE journey = ? \
                 AND opened_at >= toDateTime(?) AND opened_at < toDateTime(?)",
            )
            .bind(journey)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await?)
    }

    /// Per stage, how many clients rated the answer to a case of `journey`
    /// opened in [from, to), and the sum of their scores (csat 1–5).
    pub async fn handling(&self, journey: &str, from: u32, to: u32) -> Result<Vec<Handling>, StorageError> {
        Ok(self
            .storage
            .client()
            .query(
                "SELECT stage, count() AS n, sum(score) AS total FROM handling_ratings FINAL \
                 WHERE journey = ? AND case_id IN (SELECT event_id FROM cases WHERE journey = ? \
                 AND opened_at >= toDateTime(?) AND opened_at < toDateTime(?)) GROUP BY stage",
            )
            .bind(journey)
            .bind(journey)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await?)
    }

    pub async fn case(&self, id: Uuid) -> Result<Option<CaseRow>, StorageError> {
        Ok(self
            .storage
            .client()
            .query("SELECT ?fields FROM cases FINAL WHERE event_id = ?")
            .bind(id.to_string())
            .fetch_optional()
            .await?)
    }

    /// Which of the events `ids` opened a case.
    pub async fn opened_by(&self, ids: &[Uuid]) -> Result<std::collections::HashSet<Uuid>, StorageError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let sql = "SELECT DISTINCT toString(event_id) FROM cases WHERE event_id IN (SELECT toUUID(arrayJoin(?)))";
        let found: Vec<String> = self.storage.client().query(sql).bind(ids).fetch_all().await?;
        Ok(found.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// The logs of `ids`, each in the order its changes were made.
    pub async fn logs(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Change>>, StorageError> {
        let mut logs: HashMap<Uuid, Vec<Change>> = HashMap::new();
        if ids.is_empty() {
            return Ok(logs);
        }
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows: Vec<ChangeRow> = self
            .storage
            .client()
            // `IN (SELECT ...)` goes through the primary key; `has(...)` would not.
            .query(
                "SELECT ?fields FROM case_changes FINAL WHERE case_id IN (SELECT toUUID(arrayJoin(?))) \
                 ORDER BY case_id, seq",
            )
            .bind(ids)
            .fetch_all()
            .await?;
        for row in rows {
            if let Some(change) = change(&row) {
                logs.entry(row.case_id).or_default().push(change);
            }
        }
        Ok(logs)
    }

    /// Stores `change` as entry `seq` (0-based) of the case's log.
    pub async fn append(&self, case: Uuid, seq: u32, change: &Change) -> Result<(), StorageError> {
        self.storage.insert_one("case_changes", &change_row(case, seq, change)).await
    }

    /// The cases of `ids` that exist, in one query.
    pub async fn cases(&self, ids: &[Uuid]) -> Result<Vec<CaseRow>, StorageError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        Ok(self
            .storage
            .client()
            .query("SELECT ?fields FROM cases FINAL WHERE event_id IN (SELECT toUUID(arrayJoin(?)))")
            .bind(&ids)
            .fetch_all()
            .await?)
    }

    /// Appends changes of several cases, `(case, seq, change)`, in one INSERT:
    /// all of them or, if it fails, none.
    pub async fn append_all(&self, changes: &[(Uuid, u32, Change)]) -> Result<(), StorageError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut insert = self.storage.client().insert::<ChangeRow>("case_changes").await?;
        for (case, seq, change) in changes {
            insert.write(&change_row(*case, *seq, change)).await?;
        }
        Ok(insert.end().await?)
    }
}

/// The stored row of one change of `case`, the `seq`th of its log.
fn change_row(case: Uuid, seq: u32, change: &Change) -> ChangeRow {
    let (text, resolution) = match &change.action {
        Action::Answer { text } => (text.clone(), String::new()),
        Action::Close { resolution } => (String::new(), resolution.name().to_string()),
        Action::Acknowledge | Action::Start => (String::new(), String::new()),
    };
    ChangeRow {
        case_id: case,
        change_id: change.id,
        seq,
        at: change.at,
        by: change.by.clone(),
        action: change.action.name().into(),
        text,
        resolution,
    }
}

/// A stored change; `None` for an action this build does not know.
fn change(row: &ChangeRow) -> Option<Change> {
    // Stored text is kept as it was stored, whatever its length then.
    let action = match row.action.as_str() {
        "answer" => Action::Answer { text: row.text.clone() },
        name => Action::parse(name, None, Resolution::of(&row.resolution)).ok()?,
    };
    Some(Change { id: row.change_id, at: row.at, by: row.by.clone(), action })
}
