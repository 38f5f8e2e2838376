//! What the follow pages write: a client's rating of the answer, and an
//! address given with consent — kept in a table of its own that nothing
//! else reads, and deleted 30 days after its case closes.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

#[derive(Row, Serialize, Deserialize)]
struct HandlingRow {
    #[serde(with = "clickhouse::serde::uuid")]
    case_id: Uuid,
    rated_at: u32,
    journey: String,
    stage: String,
    touchpoint: String,
    unit: String,
    score: u8,
}

#[derive(Row, Serialize, Deserialize)]
struct ContactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    case_id: Uuid,
    email: String,
    consented_at: u32,
}

/// How long an address outlives its case's closing.
pub const KEEP_AFTER_CLOSE: u32 = 30 * 24 * 3600;

#[derive(Clone)]
pub struct FollowStore {
    storage: Storage,
}

impl FollowStore {
    pub fn new(storage: Storage) -> FollowStore {
        FollowStore { storage }
    }

    /// Stores (or replaces) the client's rating of the answer to `case`.
    pub async fn rate(&self, case: &CaseRow, score: u8, at: u32) -> Result<(), StorageError> {
        let row = HandlingRow {
            case_id: case.event_id,
            rated_at: at,
            journey: case.journey.clone(),
            stage: case.stage.clone(),
            touchpoint: case.touchpoint.clone(),
            unit: case.unit.clone(),
            score,
        };
        self.storage.insert_one("handling_ratings", &row).await
    }

    /// The client's rating of the answer to `case`, if given.
    pub async fn rating(&self, case: Uuid) -> Result<Option<u8>, StorageError> {
        Ok(self
            .storage
            .client()
            .query("SELECT score FROM handling_ratings FINAL WHERE case_id = ?")
            .bind(case.to_string())
            .fetch_optional()
            .await?)
    }

    pub async fn remember(&self, case: Uuid, email: &str, at: u32) -> Result<(), StorageError> {
        let row = ContactRow { case_id: case, email: email.into(), consented_at: at };
        self.storage.insert_one("follow_contacts", &row).await
    }

    /// The address given for `case`, if any: only the notice of the answer reads it.
    pub async fn contact(&self, case: Uuid) -> Result<Option<String>, StorageError> {
        Ok(self
            .storage
            .client()
            .query("SELECT email FROM follow_contacts FINAL WHERE case_id = ?")
            .bind(case.to_string())
            .fetch_optional()
            .await?)
    }

    /// Deletes the addresses of cases closed more than 30 days before `now`;
    /// returns how many cases' addresses went.
    pub async fn forget_closed(&self, now: u32) -> Result<usize, StorageError> {
        let ids: Vec<String> = self
            .storage
            .client()
            .query(
                "SELECT toString(case_id) FROM follow_contacts WHERE case_id IN \
                 (SELECT case_id FROM case_changes WHERE action = 'close' AND at < toDateTime(?)) GROUP BY case_id",
            )
            .bind(now.saturating_sub(KEEP_AFTER_CLOSE))
            .fetch_all()
            .await?;
        if !ids.is_empty() {
            self.storage
                .client()
                .query("ALTER TABLE follow_contacts DELETE WHERE has(?, toString(case_id))")
                .bind(&ids)
                .execute()
                .await?;
            // What the client's notice left behind goes with the address: the
            // errors of its deliveries (kept under the ids of the cases'
            // changes; a mutation cannot run a subquery on ClickHouse 18.16).
            // The records stay, emptied, so that nothing is sent again.
            let changes: Vec<String> = self
                .storage
                .client()
                .query("SELECT DISTINCT toString(change_id) FROM case_changes WHERE has(?, toString(case_id))")
                .bind(&ids)
                .fetch_all()
                .await?;
            self.storage
                .client()
                .query("ALTER TABLE deliveries UPDATE error = '' WHERE target = 'client' AND has(?, event_id)")
                .bind(&changes)
                .execute()
                .await?;
        }
        Ok(ids.len())
    }
}
