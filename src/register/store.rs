//! Versions and drafted changes in ClickHouse (migration 0016).

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::change::Change;
use super::documents::Documents;
use crate::storage::{Storage, StorageError};

/// A stored row the code cannot read back: a bug or a hand edit, never the
/// client's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("a stored register document does not parse: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl From<clickhouse::error::Error> for StoreError {
    fn from(e: clickhouse::error::Error) -> Self {
        StoreError::Storage(e.into())
    }
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Storage(e) => e.into(),
            StoreError::Corrupt(e) => crate::error::ApiError::Internal(anyhow::anyhow!("register store: {e}")),
        }
    }
}

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: u32,
    /// The approved change; nil for the import of the files.
    #[serde(with = "clickhouse::serde::uuid")]
    pub change_id: Uuid,
    pub approved_at: u32,
    pub approved_by: String,
    pub publish_by: u32,
    pub documents: String,
}

/// A version without its documents, for lists.
#[derive(Debug, Clone, Row, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub version: u32,
    #[serde(with = "clickhouse::serde::uuid")]
    pub change_id: Uuid,
    /// Unix seconds.
    pub approved_at: u32,
    pub approved_by: String,
    /// Unix seconds: the end of the 10 working days of order 5.4.
    pub publish_by: u32,
    /// When the version was seen on the ministry's site, unix seconds; 0: not yet.
    pub published_at: u32,
}

impl VersionInfo {
    /// Where the version stands against order 5.4 at `now`: `met` or `late`
    /// once published, `due` or `overdue` until then.
    pub fn publication(&self, now: u32) -> &'static str {
        match self.published_at {
            0 if now > self.publish_by => "overdue",
            0 => "due",
            at if at <= self.publish_by => "met",
            _ => "late",
        }
    }
}

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct PublicationRow {
    pub version: u32,
    pub published_at: u32,
    /// Where on the site.
    pub url: String,
    pub recorded_by: String,
}

/// `register_changes.state`: waiting for a decision.
pub const DRAFT: i8 = 1;
/// Turned down by an approver.
pub const REJECTED: i8 = 2;
/// Taken back by its editor.
pub const WITHDRAWN: i8 = 3;

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ChangeRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub change_id: Uuid,
    pub updated_at: u32,
    /// [`DRAFT`], [`REJECTED`] or [`WITHDRAWN`]; approval is a version row.
    pub state: i8,
    pub change: String,
    pub reason: String,
    pub author: String,
    pub unit: String,
    pub created_at: u32,
    pub decided_by: String,
    pub decision: String,
}

impl ChangeRow {
    pub fn change(&self) -> Result<Change, StoreError> {
        Ok(serde_json::from_str(&self.change)?)
    }
}

/// Where a change stands: approval is a version row, the rest its own state.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeState {
    Draft,
    /// Included as `version` by the approver `by`.
    Approved {
        version: u32,
        by: String,
    },
    Rejected,
    Withdrawn,
}

impl ChangeState {
    pub fn name(&self) -> &'static str {
        match self {
            ChangeState::Draft => "draft",
            ChangeState::Approved { .. } => "approved",
            ChangeState::Rejected => "rejected",
            ChangeState::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Clone)]
pub struct RegisterStore {
    storage: Storage,
}

impl RegisterStore {
    pub fn new(storage: Storage) -> RegisterStore {
        RegisterStore { storage }
    }

    /// Whether this instance may write version `version` (`storage::claims`):
    /// two approvals racing through two instances put one version in force.
    pub async fn claim_version(&self, version: u32) -> Result<bool, StoreError> {
        Ok(crate::storage::claims::claim(&self.storage, "register", version).await?)
    }

    /// The version in force: the highest.
    pub async fn latest(&self) -> Result<Option<(u32, Documents)>, StoreError> {
        let sql = "SELECT ?fields FROM register_versions FINAL ORDER BY version DESC LIMIT 1";
        let row: Option<VersionRow> = self.storage.client().query(sql).fetch_optional().await?;
        row.map(|r| Ok((r.version, serde_json::from_str(&r.documents)?))).transpose()
    }

    /// Version `version`'s documents.
    pub async fn documents(&self, version: u32) -> Result<Option<Documents>, StoreError> {
        let sql = "SELECT ?fields FROM register_versions FINAL WHERE version = ?";
        let row: Option<VersionRow> = self.storage.client().query(sql).bind(version).fetch_optional().await?;
        row.map(|r| Ok(serde_json::from_str(&r.documents)?)).transpose()
    }

    /// The documents of the version in force at `at` (unix seconds): the
    /// newest approved by then; before the first import, version 1 (the
    /// files were in force); none when nothing is stored.
    pub async fn documents_at(&self, at: u32) -> Result<Option<Documents>, StoreError> {
        let sql = "SELECT ?fields FROM register_versions FINAL \
                   ORDER BY if(approved_at <= toDateTime(?), version, 0) DESC, version LIMIT 1";
        let row: Option<VersionRow> = self.storage.client().query(sql).bind(at).fetch_optional().await?;
        row.map(|r| Ok(serde_json::from_str(&r.documents)?)).transpose()
    }

    /// Every version, newest first, with when each was published.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>, StoreError> {
        let sql = "SELECT v.version AS version, v.change_id AS change_id, v.approved_at AS approved_at, \
                   v.approved_by AS approved_by, v.publish_by AS publish_by, \
                   toUInt32(p.published_at) AS published_at \
                   FROM (SELECT version, change_id, toUInt32(approved_at) AS approved_at, approved_by, \
                         toUInt32(publish_by) AS publish_by FROM register_versions FINAL) AS v \
                   LEFT JOIN (SELECT version, min(published_at) AS published_at FROM register_publications \
                              GROUP BY version) AS p USING version \
                   ORDER BY version DESC";
        Ok(self.storage.client().query(sql).fetch_all().await?)
    }

    pub async fn insert_version(&self, row: &VersionRow) -> Result<(), StoreError> {
        Ok(self.storage.insert_one("register_versions", row).await?)
    }

    /// The version that includes `change`, if one does.
    pub async fn version_of(&self, change: Uuid) -> Result<Option<u32>, StoreError> {
        let sql = "SELECT version FROM register_versions WHERE change_id = toUUID(?) LIMIT 1";
        Ok(self.storage.client().query(sql).bind(change.to_string()).fetch_optional().await?)
    }

    /// Records that `version` was on the ministry's site at `published_at`.
    pub async fn record_publication(&self, row: &PublicationRow) -> Result<(), StoreError> {
        Ok(self.storage.insert_one("register_publications", row).await?)
    }

    pub async fn put_change(&self, row: &ChangeRow) -> Result<(), StoreError> {
        Ok(self.storage.insert_one("register_changes", row).await?)
    }

    pub async fn change(&self, id: Uuid) -> Result<Option<ChangeRow>, StoreError> {
        let sql = "SELECT ?fields FROM register_changes FINAL WHERE change_id = toUUID(?)";
        Ok(self.storage.client().query(sql).bind(id.to_string()).fetch_optional().await?)
    }

    /// Every change, newest first, with where it stands.
    pub async fn changes(&self) -> Result<Vec<(ChangeRow, ChangeState)>, StoreError> {
        let sql = "SELECT ?fields FROM register_changes FINAL ORDER BY created_at DESC, change_id";
        let rows: Vec<ChangeRow> = self.storage.client().query(sql).fetch_all().await?;
        let versions = self.versions().await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let state = match (versions.iter().find(|v| v.change_id == row.change_id), row.state) {
                    (Some(v), _) => ChangeState::Approved { version: v.version, by: v.approved_by.clone() },
                    (None, REJECTED) => ChangeState::Rejected,
                    (None, WITHDRAWN) => ChangeState::Withdrawn,
                    (None, _) => ChangeState::Draft,
                };
                (row, state)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_met_or_late_once_published_and_due_or_overdue_before() {
        let version = |published_at| VersionInfo {
            version: 2,
            change_id: Uuid::nil(),
            approved_at: 1_000,
            approved_by: "a".into(),
            publish_by: 2_000,
            published_at,
        };
        assert_eq!(version(0).publication(1_500), "due");
        assert_eq!(version(0).publication(2_000), "due", "the deadline's own second still counts");
        assert_eq!(version(0).publication(2_001), "overdue");
        assert_eq!(version(2_000).publication(9_999), "met");
        assert_eq!(version(2_001).publication(2_001), "late");
    }
}
