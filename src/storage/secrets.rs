//! The keys the service needs but the config may leave unset: made once per
//! database and kept in the `secrets` table, so links, sessions and case ids
//! outlive a restart and agree between instances.
//!
//! Two instances starting at once on an empty table may both make a key:
//! each writes its own, waits [`SETTLE`] and then takes the earliest row
//! (ties broken by value), so both take the same one unless they start
//! further apart than that, in which case the later one finds the key
//! already there and makes none.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use clickhouse::Row;
use serde::Serialize;

use super::{Storage, StorageError};
use crate::domain::time::unix;

/// How long a start that made a key waits for another instance's.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Row, Serialize)]
struct SecretRow {
    name: String,
    value: String,
    created_at: u32,
}

/// The key kept under `name`, made now if there is none. Values are never
/// logged.
pub async fn kept(storage: &Storage, name: &str) -> Result<String, StorageError> {
    if let Some(value) = earliest(storage, name).await? {
        return Ok(value);
    }
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 36]>());
    let row = SecretRow { name: name.to_string(), value, created_at: unix(SystemTime::now()) };
    storage.insert_one("secrets", &row).await?;
    tokio::time::sleep(SETTLE).await;
    Ok(earliest(storage, name).await?.unwrap_or(row.value))
}

async fn earliest(storage: &Storage, name: &str) -> Result<Option<String>, StorageError> {
    Ok(storage
        .client()
        .query("SELECT value FROM secrets WHERE name = ? ORDER BY created_at, value LIMIT 1")
        .bind(name)
        .fetch_optional::<String>()
        .await?)
}
