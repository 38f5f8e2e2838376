//! Drafting and approving changes (order 2.2): an editor drafts, an approver
//! includes the draft in the register as its next version.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::change::{Change, Refused};
use super::documents::Documents;
use super::store::{ChangeRow, DRAFT, PublicationRow, REJECTED, RegisterStore, StoreError, VersionRow};
use crate::domain::calendar::{Calendar, day_of};
use crate::domain::text::{clean, clean_all};
use crate::domain::time::{Clock, unix};
use crate::error::ApiError;
use crate::journeys::Live;

/// Working days a new version has to reach the ministry's site (order 5.4).
pub const PUBLISH_WITHIN_DAYS: u32 = 10;

#[derive(Clone)]
pub struct Desk {
    pub store: RegisterStore,
    /// The catalog every request reads: replaced by each approved version.
    pub live: Live,
    /// The ministry's time zone: the day an exclusion takes effect, the
    /// working days of 5.4.
    pub offset: time::UtcOffset,
    pub clock: Clock,
    /// One approval at a time in this process, so each version is the one in
    /// force plus one change. Several instances: issue 17.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The number of the version in force here.
    in_force: Arc<std::sync::atomic::AtomicU32>,
}

/// A new version.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Approved {
    pub version: u32,
    /// Unix seconds: the end of the 10 working days of order 5.4.
    pub publish_by: u32,
}

fn refused(r: Refused) -> ApiError {
    ApiError::Invalid { field: r.field, message: r.message }
}

impl Desk {
    pub fn new(store: RegisterStore, live: Live, offset: time::UtcOffset, clock: Clock) -> Desk {
        Desk { store, live, offset, clock, lock: Arc::default(), in_force: Arc::default() }
    }

    /// The production calendar (`calendar.toml`), which versions do not change.
    fn calendar(&self) -> Calendar {
        self.live.get().calendar.clone()
    }

    /// The documents in force: the latest version, or `files` stored as
    /// version 1 when there is none yet.
    pub async fn open(&self, files: &Documents) -> Result<(u32, Documents), StoreError> {
        let _one = self.lock.lock().await;
        if let Some(latest) = self.store.latest().await? {
            self.in_force.store(latest.0, Ordering::SeqCst);
            return Ok(latest);
        }
        self.store.insert_version(&self.version_row(1, Uuid::nil(), "import", files)?).await?;
        self.in_force.store(1, Ordering::SeqCst);
        Ok((1, files.clone()))
    }

    /// What `change` would change in `in_force`, field by field: what an
    /// approver reads before deciding. Empty when it no longer applies.
    pub fn preview(&self, change: &Change, in_force: &Documents) -> Vec<super::diff::Difference> {
        match change.apply(in_force, &self.today()) {
            Ok(next) => super::diff::diff(in_force, &next),
            Err(_) => Vec::new(),
        }
    }

    fn today(&self) -> String {
        day_of((self.clock)(), self.offset).to_string()
    }

    fn version_row(&self, version: u32, change: Uuid, by: &str, docs: &Documents) -> Result<VersionRow, StoreError> {
        let now = (self.clock)();
        let publish_by = self.calendar().deadline(now, PUBLISH_WITHIN_DAYS, self.offset);
        Ok(VersionRow {
            version,
            change_id: change,
            approved_at: unix(now),
            approved_by: by.to_string(),
            publish_by: unix(publish_by),
            documents: serde_json::to_string(docs)?,
        })
    }

    /// Records a draft once it applies to the version in force and the
    /// editor's units may draft it.
    pub async fn draft(
        &self,
        change: Change,
        reason: String,
        author: &str,
        units: &[String],
    ) -> Result<Uuid, ApiError> {
        let (change, reason) = (clean_all(change).map_err(|e| ApiError::Internal(e.into()))?, clean(reason));
        if reason.trim().is_empty() {
            return Err(ApiError::invalid("reason", "say why the register must change (order 5.3)"));
        }
        let (_, docs) = self.store.latest().await?.ok_or_else(not_opened)?;
        units_may_draft(&change, &docs, units)?;
        change.apply(&docs, &self.today()).map_err(refused)?;
        let now = unix((self.clock)());
        let id = Uuid::new_v4();
        let row = ChangeRow {
            change_id: id,
            updated_at: now,
            state: DRAFT,
            change: serde_json::to_string(&change).map_err(StoreError::from)?,
            reason,
            author: author.to_string(),
            unit: units.join(","),
            created_at: now,
            decided_by: String::new(),
            decision: String::new(),
        };
        self.store.put_change(&row).await?;
        Ok(id)
    }

    /// Includes draft `id` as the next version, applied to the version in
    /// force now; a draft already included, rejected or withdrawn is a 409.
    pub async fn approve(&self, id: Uuid, approver: &str) -> Result<Approved, ApiError> {
        let _one = self.lock.lock().await;
        let row = self.pending(id).await?;
        let (version, docs) = self.store.latest().await?.ok_or_else(not_opened)?;
        let next = row.change()?.apply(&docs, &self.today()).map_err(refused)?;
        // Checked by `apply`; built before the INSERT so nothing is stored that cannot serve.
        let catalog = next.catalog(self.calendar()).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        let new = self.version_row(version + 1, id, approver, &next)?;
        // Serialised across instances, not only within this one.
        if !self.store.claim_version(new.version).await? {
            return Err(ApiError::Conflict {
                field: "id",
                message: "another approval put a version in force at the same moment; approve again".into(),
            });
        }
        self.store.insert_version(&new).await?;
        self.live.set(catalog);
        self.in_force.store(new.version, Ordering::SeqCst);
        Ok(Approved { version: new.version, publish_by: new.publish_by })
    }

    /// Puts `docs` in force as the next version, made by the service itself
    /// (the units a version approved before they were required lacks, taken
    /// from the files). Returns the version.
    pub async fn adopt(&self, docs: &Documents, why: &str) -> Result<u32, ApiError> {
        let _one = self.lock.lock().await;
        let (version, _) = self.store.latest().await?.ok_or_else(not_opened)?;
        let catalog = docs.catalog(self.calendar()).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        let new = self.version_row(version + 1, Uuid::nil(), why, docs)?;
        if !self.store.claim_version(new.version).await? {
            return Err(ApiError::Conflict { field: "version", message: "another instance wrote it first".into() });
        }
        self.store.insert_version(&new).await?;
        self.live.set(catalog);
        self.in_force.store(new.version, Ordering::SeqCst);
        Ok(new.version)
    }

    /// Turns draft `id` down with the approver's words.
    pub async fn reject(&self, id: Uuid, approver: &str, decision: String) -> Result<(), ApiError> {
        if decision.trim().is_empty() {
            return Err(ApiError::invalid("decision", "say why the change is turned down, for its editor"));
        }
        let _one = self.lock.lock().await;
        let mut row = self.pending(id).await?;
        row.state = REJECTED;
        row.updated_at = unix((self.clock)()).max(row.updated_at + 1);
        row.decided_by = approver.to_string();
        row.decision = decision;
        Ok(self.store.put_change(&row).await?)
    }

    /// Puts in force a version newer than this instance's: one another
    /// instance approved. Returns its number when it did.
    pub async fn catch_up(&self) -> Result<Option<u32>, ApiError> {
        let _one = self.lock.lock().await;
        let Some((version, docs)) = self.store.latest().await? else { return Ok(None) };
        if version <= self.in_force.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let catalog = docs.catalog(self.calendar()).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        self.live.set(catalog);
        self.in_force.store(version, Ordering::SeqCst);
        Ok(Some(version))
    }

    /// Runs [`Desk::catch_up`] every `interval` until the task is aborted.
    pub async fn follow(self, interval: std::time::Duration) {
        loop {
            tokio::time::sleep(interval).await;
            match self.catch_up().await {
                Ok(Some(version)) => tracing::info!(version, "a newer register version is in force"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for a newer register version; trying again"),
            }
        }
    }

    /// Records that `version` appeared at `url` on the ministry's site at
    /// `at` (RFC 3339; default now): after its approval, not in the future.
    pub async fn published(&self, version: u32, url: String, at: Option<&str>, by: &str) -> Result<(), ApiError> {
        let parsed = url::Url::parse(url.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        if parsed.is_none() {
            return Err(ApiError::invalid("url", "the http(s) address of the page that shows the version"));
        }
        let now = unix((self.clock)());
        let published_at = match at {
            None => now,
            Some(text) => humantime::parse_rfc3339_weak(text)
                .map(unix)
                .map_err(|_| ApiError::invalid("published_at", "an RFC 3339 time in UTC, like 2026-12-03T07:00:00Z"))?,
        };
        let info = self.store.versions().await?.into_iter().find(|v| v.version == version);
        let info = info.ok_or(ApiError::NotFound { what: "version", field: "version", id: version.to_string() })?;
        if published_at > now || published_at < info.approved_at {
            return Err(ApiError::invalid("published_at", "between the version's approval and now"));
        }
        let row = PublicationRow { version, published_at, url: url.trim().to_string(), recorded_by: by.to_string() };
        Ok(self.store.record_publication(&row).await?)
    }

    /// Draft `id`, still waiting for a decision.
    async fn pending(&self, id: Uuid) -> Result<ChangeRow, ApiError> {
        let row = self.store.change(id).await?;
        let row = row.ok_or(ApiError::NotFound { what: "change", field: "id", id: id.to_string() })?;
        if let Some(version) = self.store.version_of(id).await? {
            let message = format!("the change is already in version {version}");
            return Err(ApiError::Conflict { field: "id", message });
        }
        if row.state != DRAFT {
            return Err(ApiError::Conflict { field: "id", message: "the change was turned down".into() });
        }
        Ok(row)
    }
}

fn not_opened() -> ApiError {
    ApiError::Internal(anyhow::anyhow!("no register version is stored: Desk::open runs at start"))
}

/// Unix seconds as the day they fall on in `offset`, `YYYY-MM-DD`.
pub fn day(unix: u32, offset: time::UtcOffset) -> String {
    day_of(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(unix)), offset).to_string()
}

/// An editor drafts a stage's edit only for a stage their units work, and
/// may not give it to a unit of someone else: the stage's unit before and
/// after (its own, or the journey's `[cases].unit`) must both be theirs.
/// Changes to the register's touchpoints are no unit's.
fn units_may_draft(change: &Change, docs: &Documents, units: &[String]) -> Result<(), ApiError> {
    let Change::EditStage { journey, stage } = change else { return Ok(()) };
    let Some(journey) = docs.journeys.iter().find(|j| &j.id == journey) else { return Ok(()) };
    let unit_of = |s: &crate::journeys::model::Stage| s.unit.clone().or_else(|| journey.cases.unit.clone());
    let before = journey.stages.iter().find(|s| s.id == stage.id).and_then(unit_of);
    let after = unit_of(stage);
    for (field, unit) in [("stage.id", before), ("stage.unit", after)] {
        if let Some(unit) = unit.filter(|u| !units.contains(u)) {
            return Err(ApiError::Forbidden {
                field,
                message: format!("the stage's cases are worked by {unit:?}, not a unit of yours"),
            });
        }
    }
    Ok(())
}
