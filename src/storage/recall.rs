//! What the dedupe layer must know at start: the ids (and, for updatable
//! events, the last state) that ClickHouse stored within the dedupe window.
//! One streaming read per table; nothing is held but the memory it fills.

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::key::{Key, Version, email_fingerprint};
use super::rows::{ANSWERS, CALLS, CORRESPONDENCE, Event, FEEDBACK, LetterRow, OFFERS, TIMINGS};
use super::{Storage, StorageError};
use crate::domain::EventKind;

#[derive(Row, Deserialize)]
struct Seen {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    at: u32,
}

#[derive(Row, Deserialize)]
struct Clicked {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    at: u32,
    score: u8,
    comment: String,
}

/// Calls `remember` for every event stored since `since` (immutable kinds)
/// or `since_updates` (letters, e-mail ratings), seconds since the epoch.
/// Returns how many rows were read.
pub async fn recall(
    storage: &Storage,
    since: u32,
    since_updates: u32,
    remember: &(dyn Fn(Key, Version) + Sync),
) -> Result<u64, StorageError> {
    // Site '' is the rating given at the end of a call: it travels with the call.
    let ratings = format!(
        "SELECT event_id AS id, toUInt32(received_at) AS at FROM {FEEDBACK} \
         WHERE received_at >= toDateTime(?) AND site NOT IN ('', 'email')"
    );
    let mut read = 0;
    // Answers given at the end of a call (site '') travel with the call.
    let answers = format!(
        "SELECT event_id AS id, toUInt32(received_at) AS at FROM {ANSWERS} \
         WHERE received_at >= toDateTime(?) AND site != ''"
    );
    for (sql, kind) in [
        (ratings, EventKind::Rating),
        (seen_sql(TIMINGS), EventKind::Timing),
        (seen_sql(CALLS), EventKind::Call),
        (answers, EventKind::Answers),
        (seen_sql(OFFERS), EventKind::Offer),
    ] {
        let mut cursor = storage.client().query(&sql).bind(since).fetch::<Seen>()?;
        while let Some(row) = cursor.next().await? {
            remember(Key { kind, id: row.id }, Version { at: row.at, fingerprint: 0 });
            read += 1;
        }
    }
    let clicks = format!(
        "SELECT event_id AS id, toUInt32(received_at) AS at, score, comment FROM {FEEDBACK} \
         WHERE received_at >= toDateTime(?) AND site = 'email'"
    );
    let mut cursor = storage.client().query(&clicks).bind(since_updates).fetch::<Clicked>()?;
    while let Some(row) = cursor.next().await? {
        let version = Version { at: row.at, fingerprint: email_fingerprint(row.score, &row.comment) };
        remember(Key { kind: EventKind::EmailRating, id: row.id }, version);
        read += 1;
    }
    let letters = format!("SELECT ?fields FROM {CORRESPONDENCE} WHERE updated_at >= toDateTime(?)");
    let mut cursor = storage.client().query(&letters).bind(since_updates).fetch::<LetterRow>()?;
    while let Some(row) = cursor.next().await? {
        if let Some((key, version)) = super::key::identify(&Event::Letter(row)) {
            remember(key, version);
        }
        read += 1;
    }
    Ok(read)
}

fn seen_sql(table: &str) -> String {
    format!("SELECT event_id AS id, toUInt32(received_at) AS at FROM {table} WHERE received_at >= toDateTime(?)")
}
