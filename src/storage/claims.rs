//! The next version of a record several instances may write (a register
//! version, a recommendation's next version) goes to one writer: each
//! claims `(what, version)` in the `claims` table, waits [`SETTLE`] for a
//! rival's claim to become visible, and writes only when its own claim is
//! the earliest (by its time in milliseconds, then its random id). Every
//! instance reads the same table by the same rule, so they agree on the
//! winner; the others are told to try again. A claim made later than the
//! winner's can never win, so a winner that has already decided stays the
//! winner.
//!
//! What it assumes: instances' clocks agree within [`SETTLE`], and a claim
//! is visible to every instance within it (one server: at once; a cluster:
//! replication of a small insert).

use std::time::{Duration, SystemTime};

use clickhouse::Row;
use serde::Serialize;
use uuid::Uuid;

use super::{Storage, StorageError};

/// How long a claimant waits before it reads who won.
pub const SETTLE: Duration = Duration::from_millis(500);
/// A claim this old whose writer has not written (a request cut off, an
/// INSERT that failed) is abandoned: it no longer stops the next writer.
/// A writer writes within a moment of winning; the next one reads the
/// version it wrote and claims the one after.
pub const LEASE: Duration = Duration::from_secs(30);

#[derive(Row, Serialize)]
struct ClaimRow {
    what: String,
    version: u32,
    at_ms: u64,
    #[serde(with = "clickhouse::serde::uuid")]
    claimant: Uuid,
}

/// Claims `version` of `what`; true when this claim is the one that may
/// write it.
pub async fn claim(storage: &Storage, what: &str, version: u32) -> Result<bool, StorageError> {
    let claimant = Uuid::new_v4();
    let at_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let live_since = at_ms.saturating_sub(LEASE.as_millis() as u64);
    storage.insert_one("claims", &ClaimRow { what: what.to_string(), version, at_ms, claimant }).await?;
    tokio::time::sleep(SETTLE).await;
    let winner: Option<String> = storage
        .client()
        .query(
            "SELECT toString(claimant) FROM claims WHERE what = ? AND version = ? AND at_ms >= ? \
             ORDER BY at_ms, claimant LIMIT 1",
        )
        .bind(what)
        .bind(version)
        .bind(live_since)
        .fetch_optional()
        .await?;
    Ok(winner.as_deref() == Some(claimant.to_string().as_str()))
}
