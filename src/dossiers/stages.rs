//! How long clients' cases really take at each stage: per case, from its
//! first contact at a stage to its first at a later one.
//!
//! Pairing each case's stages needs a GROUP BY over every case, seconds on a
//! million of them; the view must answer in a fraction of that. So a
//! background round recomputes the per-case stage times whole into a new
//! partition of `case_stage_times` every `case_refs.refresh_interval`,
//! records the build as finished, then drops the older ones; the view reads
//! the latest finished build (migration 0014).

use std::time::{Duration, SystemTime};

use clickhouse::Row;
use serde::Deserialize;
use time::UtcOffset;

use crate::domain::calendar::Calendar;
use crate::domain::time::unix;
use crate::journeys::Catalog;
use crate::journeys::model::Journey;
use crate::storage::{Storage, StorageError};

/// Local days from the epoch (days begin at `offset`).
fn local_day(at: u32, offset: UtcOffset) -> i64 {
    (i64::from(at) + i64::from(offset.whole_seconds())).div_euclid(86_400)
}

/// Per stage with a legal deadline and per local day a case could have
/// entered it on (those of the journey's touches): the end of the deadline,
/// as `transform` keys `stage number * 100000 + local day` and values.
fn deadlines(journey: &Journey, calendar: &Calendar, offset: UtcOffset, first: u32, last: u32) -> (Vec<u64>, Vec<u32>) {
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let days = local_day(first, offset)..=local_day(last, offset);
    for (i, stage) in journey.stages.iter().enumerate() {
        let Some(allowed) = stage.legal_deadline_days else { continue };
        for day in days.clone() {
            // Any moment of the day has the same deadline: its start will do.
            let start = (day * 86_400 - i64::from(offset.whole_seconds())).max(0) as u64;
            let from = SystemTime::UNIX_EPOCH + Duration::from_secs(start);
            keys.push((i as u64 + 1) * 100_000 + day as u64);
            values.push(unix(calendar.deadline(from, u32::from(allowed), offset)));
        }
    }
    (keys, values)
}

/// One stage's times of every case of a journey, into partition `build`.
pub const BUILD: &str = "INSERT INTO case_stage_times \
    SELECT ? AS build, journey, stage, case_key, entered_at, left_at, \
      toDateTime(transform(toUInt64(idx) * 100000 + intDiv(toUInt32(entered_at) + ?, 86400), ?, ?, toUInt32(0))) AS deadline_at \
    FROM ( \
      SELECT journey, case_key, stage, idx, entered_at, \
        arrayReduce('min', arrayFilter((t, i) -> i > idx, ts, idxs)) AS left_at \
      FROM ( \
        SELECT journey, case_key, groupArray(stage) AS stages, groupArray(i) AS idxs, groupArray(first) AS ts \
        FROM (SELECT journey, case_key, stage, transform(stage, ?, ?, 0) AS i, min(at) AS first \
              FROM case_touches WHERE journey = ? GROUP BY journey, case_key, stage HAVING i > 0) \
        GROUP BY journey, case_key \
      ) ARRAY JOIN stages AS stage, idxs AS idx, ts AS entered_at \
    )";

#[derive(Row, Deserialize)]
struct Span {
    first: u32,
    last: u32,
    n: u64,
}

/// Recomputes every journey's per-case stage times as build `build` (unix
/// seconds, above every earlier build), then makes it the one readers see.
pub async fn rebuild(storage: &Storage, catalog: &Catalog, offset: UtcOffset, build: u32) -> Result<u64, StorageError> {
    let client = storage.client();
    for journey in catalog.journeys() {
        let sql = "SELECT toUInt32(min(at)) AS first, toUInt32(max(at)) AS last, count() AS n \
                   FROM case_touches WHERE journey = ?";
        let span: Span = client.query(sql).bind(&journey.id).fetch_one().await?;
        if span.n == 0 {
            continue;
        }
        let (keys, values) = deadlines(journey, &catalog.calendar, offset, span.first, span.last);
        let ids: Vec<&str> = journey.stages.iter().map(|s| s.id.as_str()).collect();
        let numbers: Vec<u8> = (1..=ids.len() as u8).collect();
        client
            .query(BUILD)
            .bind(build)
            .bind(offset.whole_seconds())
            .bind(keys)
            .bind(values)
            .bind(ids)
            .bind(numbers)
            .bind(&journey.id)
            .execute()
            .await?;
    }
    let rows: u64 =
        client.query("SELECT count() FROM case_stage_times WHERE build = ?").bind(build).fetch_one().await?;
    client
        .query("INSERT INTO case_stage_builds (build, built_at, rows) VALUES (?, toDateTime(?), ?)")
        .bind(build)
        .bind(build)
        .bind(rows)
        .execute()
        .await?;
    // Older builds, and any a crash left half written.
    let old: Vec<String> = client
        .query(
            "SELECT DISTINCT partition FROM system.parts \
             WHERE database = currentDatabase() AND table = 'case_stage_times' AND active AND partition != toString(?)",
        )
        .bind(build)
        .fetch_all()
        .await?;
    for partition in old {
        if partition.parse::<u32>().is_ok() {
            client.query(&format!("ALTER TABLE case_stage_times DROP PARTITION {partition}")).execute().await?;
        }
    }
    Ok(rows)
}

/// The latest finished build: its number (0: none yet).
pub async fn latest_build(storage: &Storage) -> Result<u32, StorageError> {
    Ok(storage.client().query("SELECT max(build) FROM case_stage_builds").fetch_one().await?)
}

/// Rebuilds now and every `interval` until the task is aborted.
pub async fn run(storage: Storage, catalog: std::sync::Arc<Catalog>, offset: UtcOffset, interval: Duration) {
    loop {
        let now = unix(SystemTime::now());
        let outcome = match latest_build(&storage).await {
            Ok(last) => rebuild(&storage, &catalog, offset, now.max(last + 1)).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(rows) => tracing::debug!(rows, "per-case stage times rebuilt"),
            Err(e) => tracing::warn!(error = %e, "cannot rebuild the per-case stage times; trying again"),
        }
        tokio::time::sleep(interval).await;
    }
}
