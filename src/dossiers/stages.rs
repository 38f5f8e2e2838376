//! How long clients' cases really take at each stage: per case, from its
//! first contact at a stage to its first at a later one after that.
//!
//! Pairing each case's stages needs a GROUP BY over every case, seconds on a
//! million of them; the view must answer in a fraction of that. So a
//! background round recomputes the per-case stage times whole into a new
//! partition of `case_stage_times` every `case_refs.refresh_interval`,
//! records each journey's part as finished, then drops all builds but the
//! new one and the one before; the view reads its journey's latest finished
//! build (migration 0015).

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

/// Every case's times at each stage of journey number `?` into partition
/// `build`: per case, its touches' stage numbers and times side by side, then
/// per stage reached the first touch there and the first at a later stage
/// since.
pub const BUILD: &str = "INSERT INTO case_stage_times \
      (build, journey, stage, case_key, entered_at, left_at, spent, deadline_at) \
    SELECT ? AS build, ? AS journey, stage, case_key, toDateTime(entered) AS entered_at, toDateTime(moved) AS left_at, \
      if(moved > 0, moved - entered, 0) AS spent, \
      toDateTime(transform(toUInt64(stage) * 100000 + intDiv(entered + ?, 86400), ?, ?, toUInt32(0))) AS deadline_at \
    FROM ( \
      SELECT case_key, stage, \
        arrayReduce('min', arrayFilter((t, x) -> x = stage, ats, numbers)) AS entered, \
        arrayReduce('min', arrayFilter((t, x) -> x > stage AND t >= entered, ats, numbers)) AS moved \
      FROM ( \
        SELECT case_key, groupArray(transform(stage, ?, ?, toUInt8(0))) AS numbers, groupArray(toUInt32(at)) AS ats \
        FROM case_touches WHERE journey = ? GROUP BY case_key \
      ) ARRAY JOIN arrayFilter(x -> x > 0, arrayDistinct(numbers)) AS stage \
    )";

#[derive(Row, Deserialize)]
struct Span {
    first: u32,
    last: u32,
}

/// The build a reader of `journey`'s stage times takes: its number, the
/// journey's number in it and the stage ids its stage numbers stand for.
#[derive(Debug, Row, Deserialize)]
pub struct Build {
    pub build: u32,
    pub number: u16,
    pub stages: Vec<String>,
}

/// Recomputes every journey's per-case stage times as build `build` (unix
/// seconds, above every earlier build); each journey's reader sees them once
/// its row in `case_stage_builds` is written.
pub async fn rebuild(storage: &Storage, catalog: &Catalog, offset: UtcOffset, build: u32) -> Result<u64, StorageError> {
    let client = storage.client();
    let previous = latest_build(storage).await?;
    let mut total = 0;
    for (number, journey) in (1u16..).zip(catalog.journeys()) {
        let rows = rebuild_journey(storage, catalog, offset, build, number, journey).await?;
        let ids: Vec<&str> = journey.stages.iter().map(|s| s.id.as_str()).collect();
        client
            .query(
                "INSERT INTO case_stage_builds (build, built_at, journey, number, stages, rows) \
                 VALUES (?, toDateTime(?), ?, ?, ?, ?)",
            )
            .bind(build)
            .bind(build)
            .bind(&journey.id)
            .bind(number)
            .bind(ids)
            .bind(rows)
            .execute()
            .await?;
        total += rows;
    }
    // The build before stays for readers that chose it a moment ago; older
    // ones go, and any a crash left half written.
    for table in ["case_stage_times", "case_stage_builds"] {
        let old: Vec<String> = client
            .query(
                "SELECT DISTINCT partition FROM system.parts \
                 WHERE database = currentDatabase() AND table = ? AND active \
                   AND partition NOT IN (toString(?), toString(?))",
            )
            .bind(table)
            .bind(build)
            .bind(previous)
            .fetch_all()
            .await?;
        for partition in old {
            if partition.parse::<u32>().is_ok() {
                client.query(&format!("ALTER TABLE {table} DROP PARTITION {partition}")).execute().await?;
            }
        }
    }
    Ok(total)
}

async fn rebuild_journey(
    storage: &Storage,
    catalog: &Catalog,
    offset: UtcOffset,
    build: u32,
    number: u16,
    journey: &Journey,
) -> Result<u64, StorageError> {
    let client = storage.client();
    let sql = "SELECT toUInt32(min(at)) AS first, toUInt32(max(at)) AS last FROM case_touches WHERE journey = ?";
    let span: Span = client.query(&storage.everywhere_in(sql)).bind(&journey.id).fetch_one().await?;
    if span.last == 0 {
        return Ok(0);
    }
    let (keys, values) = deadlines(journey, &catalog.calendar, offset, span.first, span.last);
    let ids: Vec<&str> = journey.stages.iter().map(|s| s.id.as_str()).collect();
    let numbers: Vec<u8> = (1..=ids.len() as u8).collect();
    // A case's touches are on the shards of the instances that took them.
    client
        .query(&storage.everywhere_in(BUILD))
        .bind(build)
        .bind(number)
        .bind(offset.whole_seconds())
        .bind(keys)
        .bind(values)
        .bind(ids)
        .bind(numbers)
        .bind(&journey.id)
        .execute()
        .await?;
    let count = "SELECT count() FROM case_stage_times WHERE build = ? AND journey = ?";
    Ok(client.query(count).bind(build).bind(number).fetch_one().await?)
}

/// The latest build of any journey (0: none yet).
pub async fn latest_build(storage: &Storage) -> Result<u32, StorageError> {
    Ok(storage.client().query("SELECT max(build) FROM case_stage_builds").fetch_one().await?)
}

/// The latest build of `journey`'s stage times, if there is one.
pub async fn journey_build(storage: &Storage, journey: &str) -> Result<Option<Build>, StorageError> {
    let sql = "SELECT build, number, stages FROM case_stage_builds WHERE journey = ? ORDER BY build DESC LIMIT 1";
    Ok(storage.client().query(sql).bind(journey).fetch_optional().await?)
}

/// Rebuilds now and every `interval` until the task is aborted.
pub async fn run(
    storage: Storage,
    catalog: crate::journeys::Live,
    offset: UtcOffset,
    interval: Duration,
    clock: crate::domain::time::Clock,
) {
    loop {
        let now = unix(clock());
        let outcome = match latest_build(&storage).await {
            Ok(last) => rebuild(&storage, &catalog.get(), offset, now.max(last + 1)).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(rows) => tracing::debug!(rows, "per-case stage times rebuilt"),
            Err(e) => tracing::warn!(error = %e, "cannot rebuild the per-case stage times; trying again"),
        }
        tokio::time::sleep(interval).await;
    }
}
