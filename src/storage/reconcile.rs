//! Makes the rollups agree with their raw tables after an INSERT whose fate
//! was unknown.
//!
//! ClickHouse writes an INSERT's block to the table first and then to each
//! materialized view fed by it; a server stopped between the two keeps the
//! rows and loses the views' share. The shipper's replay check then finds the
//! rows stored and rightly does not insert them again, so without this step a
//! rollup would stay short for good. After a checked round that found rows
//! already stored, the shipper calls [`rollups`] with those rows:
//!
//! - `feedback_daily` and `calls_daily` hold sums. For each (journey, day) the
//!   rows touch, the sums over the raw table (`FINAL`: the last version of each
//!   event) are compared with the rollup's, and the difference is inserted
//!   straight into the rollup. The difference is computed anew from what is
//!   stored each time, so a repair whose own INSERT failed midway is repaired
//!   by the next attempt, never applied twice.
//! - `answers_daily` holds sums and counts too, compared and mended the same
//!   way per (journey, day).
//! - `stage_time_daily` holds quantile states, which cannot be subtracted. Per
//!   key, the count of raw rows is compared with the rollup's; a key short by
//!   exactly the rows of the round found in its timings, its ratings, or both,
//!   gets those rows' states. A shortfall that matches none of them, or a
//!   surplus, cannot be mended from here: it is logged as an error.
//!
//! The comparison assumes nothing else writes those tables meanwhile: the
//! shipper runs it between its own INSERTs, and on one server it is the only
//! writer. On a cluster other instances write the same tables through other
//! replicas, whose raw and rollup parts this replica fetches one by one: a
//! raw part fetched before its rollup part would look like a lost view write
//! and be "repaired" into a double count. So there the shipper first calls
//! [`settle`], which waits until this replica has fetched everything queued.
//! What remains is an INSERT of another instance running at that very moment
//! on this same replica (between its table's part and its views' parts, a few
//! milliseconds); the repair itself runs only after an INSERT whose fate was
//! unknown.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rows::{AnswersRow, CallRow, CorrectionRow, FeedbackRow, OfferRow, TimingRow};

/// How a rating is put on 0–100 in `feedback_daily`, as its view computes it
/// (migration 0006): a repair must add what the view would have added.
const SCORE_100: &str = "toFloat64(multiIf(scale = 'csat', (score - 1) * 25, scale = 'nps', score * 10, \
                         scale = 'ces', (score - 1) * 100 / 6, score * 100))";

/// `timings.measure` code of task timings (migration 0002), the only ones
/// `stage_time_daily` takes.
const MEASURE_TASK: i8 = 2;

/// The rows of a checked round that ClickHouse already held: their views may
/// or may not have seen them.
#[derive(Default)]
pub(crate) struct AlreadyStored {
    pub feedback: Vec<FeedbackRow>,
    pub timings: Vec<TimingRow>,
    pub calls: Vec<CallRow>,
    pub corrections: Vec<CorrectionRow>,
    pub answers: Vec<AnswersRow>,
    pub offers: Vec<OfferRow>,
}

impl AlreadyStored {
    pub fn is_empty(&self) -> bool {
        self.feedback.is_empty()
            && self.timings.is_empty()
            && self.calls.is_empty()
            && self.corrections.is_empty()
            && self.answers.is_empty()
            && self.offers.is_empty()
    }
}

/// Rows written into each rollup by a repair.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Repaired {
    pub feedback_daily: usize,
    pub calls_daily: usize,
    pub stage_time_daily: usize,
    pub answers_daily: usize,
    pub offers_daily: usize,
}

/// A (journey, day) a rollup is compared on; the day in days since the epoch.
type Day = (String, u16);

fn day_of(seconds: u32) -> u16 {
    u16::try_from(seconds / 86_400).unwrap_or(u16::MAX)
}

/// `YYYY-MM-DD` of a day since the epoch, for `toDate` in SQL.
fn date(day: u16) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(day) * 86_400);
    humantime::format_rfc3339_seconds(at).to_string()[..10].to_string()
}

/// The raw tables a repair reads and the rollups it compares them with.
const COMPARED: [&str; 11] = [
    "feedback",
    "feedback_corrections",
    "timings",
    "calls",
    "answers",
    "offers",
    "feedback_daily",
    "calls_daily",
    "stage_time_daily",
    "answers_daily",
    "offers_daily",
];

/// How long [`settle`] waits for this replica; past it the round fails and
/// is retried, its rows safe in the spool.
const SETTLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// On a cluster, waits until this replica has fetched every part the others
/// wrote to the tables a repair compares, so that a part of another
/// instance's INSERT is seen with its rollup's share or not at all.
pub(crate) async fn settle(client: &Client) -> anyhow::Result<()> {
    for table in COMPARED {
        let sync = client.query(&format!("SYSTEM SYNC REPLICA {table}")).execute();
        tokio::time::timeout(SETTLE_WITHIN, sync)
            .await
            .map_err(|_| anyhow::anyhow!("replica of {table} did not catch up within {SETTLE_WITHIN:?}"))??;
    }
    Ok(())
}

/// Brings every rollup the rows of `found` feed in line with the raw tables.
pub(crate) async fn rollups(client: &Client, found: &AlreadyStored) -> clickhouse::error::Result<Repaired> {
    let mut repaired = Repaired::default();
    let feedback_days: BTreeSet<Day> = found
        .feedback
        .iter()
        .map(|r| (r.journey.clone(), day_of(r.occurred_at)))
        .chain(found.corrections.iter().map(|r| (r.journey.clone(), r.day)))
        .collect();
    for (journey, day) in &feedback_days {
        repaired.feedback_daily += feedback_daily(client, journey, *day).await?;
    }
    let call_days: BTreeSet<Day> = found.calls.iter().map(|r| (r.journey.clone(), day_of(r.started_at))).collect();
    for (journey, day) in &call_days {
        repaired.calls_daily += calls_daily(client, journey, *day).await?;
    }
    repaired.stage_time_daily = stage_time_daily(client, found).await?;
    let answer_days: BTreeSet<Day> = found.answers.iter().map(|r| (r.journey.clone(), day_of(r.occurred_at))).collect();
    for (journey, day) in &answer_days {
        repaired.answers_daily += answers_daily(client, journey, *day).await?;
    }
    let offer_days: BTreeSet<Day> = found.offers.iter().map(|r| (r.journey.clone(), day_of(r.occurred_at))).collect();
    for (journey, day) in &offer_days {
        repaired.offers_daily += offers_daily(client, journey, *day).await?;
    }
    Ok(repaired)
}

/// A row of `feedback_daily`; as a repair, the difference to add.
#[derive(Debug, Row, Serialize, Deserialize)]
struct FeedbackDaily {
    day: u16,
    journey: String,
    stage: String,
    touchpoint: String,
    channel: String,
    segment: i8,
    n: i64,
    sum: f64,
    sumsq: f64,
    positive: i64,
    negative: i64,
}

async fn feedback_daily(client: &Client, journey: &str, day: u16) -> clickhouse::error::Result<usize> {
    let from = u64::from(day) * 86_400;
    let sql = format!(
        "SELECT day, journey, stage, touchpoint, channel, segment, \
                sum(dn) AS n, sum(ds) AS sum, sum(dsq) AS sumsq, sum(dp) AS positive, sum(dng) AS negative \
         FROM ( \
           SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, \
                  toInt64(count()) AS dn, sum({SCORE_100}) AS ds, sum(pow({SCORE_100}, 2)) AS dsq, \
                  toInt64(countIf(emotion = 'positive')) AS dp, toInt64(countIf(emotion = 'negative')) AS dng \
           FROM feedback FINAL \
           WHERE journey = ? AND occurred_at >= toDateTime({from}) AND occurred_at < toDateTime({to}) \
           GROUP BY day, journey, stage, touchpoint, channel, segment \
           UNION ALL \
           SELECT day, journey, stage, touchpoint, channel, segment, \
                  -n AS dn, -sum AS ds, -sumsq AS dsq, -positive AS dp, -negative AS dng \
           FROM feedback_daily WHERE journey = ? AND day = toDate(?) \
         ) \
         GROUP BY day, journey, stage, touchpoint, channel, segment \
         HAVING n != 0 OR positive != 0 OR negative != 0 OR abs(sum) > 1e-6 OR abs(sumsq) > 1e-6",
        to = from + 86_400,
    );
    add_difference::<FeedbackDaily>(client, "feedback_daily", &sql, journey, day).await
}

/// A row of `calls_daily`; as a repair, the difference to add.
#[derive(Debug, Row, Serialize, Deserialize)]
struct CallsDaily {
    day: u16,
    journey: String,
    segment: i8,
    n: i64,
    over_two_transfers: i64,
}

async fn calls_daily(client: &Client, journey: &str, day: u16) -> clickhouse::error::Result<usize> {
    let from = u64::from(day) * 86_400;
    let sql = format!(
        "SELECT day, journey, segment, sum(dn) AS n, sum(dover) AS over_two_transfers \
         FROM ( \
           SELECT toDate(started_at, 'UTC') AS day, journey, segment, \
                  toInt64(count()) AS dn, toInt64(countIf(transfers > 2)) AS dover \
           FROM calls FINAL \
           WHERE journey = ? AND started_at >= toDateTime({from}) AND started_at < toDateTime({to}) \
           GROUP BY day, journey, segment \
           UNION ALL \
           SELECT day, journey, segment, -n AS dn, -over_two_transfers AS dover \
           FROM calls_daily WHERE journey = ? AND day = toDate(?) \
         ) \
         GROUP BY day, journey, segment \
         HAVING n != 0 OR over_two_transfers != 0",
        to = from + 86_400,
    );
    add_difference::<CallsDaily>(client, "calls_daily", &sql, journey, day).await
}

/// A row of `answers_daily`; as a repair, the difference to add.
#[derive(Debug, Row, Serialize, Deserialize)]
struct AnswersDaily {
    day: u16,
    journey: String,
    stage: String,
    touchpoint: String,
    channel: String,
    segment: i8,
    question_set: String,
    question: String,
    responses: i64,
    n: i64,
    sum: i64,
    sumsq: i64,
    n1: i64,
    n2: i64,
    n3: i64,
    n4: i64,
    n5: i64,
}

async fn answers_daily(client: &Client, journey: &str, day: u16) -> clickhouse::error::Result<usize> {
    let from = u64::from(day) * 86_400;
    let counts = ["responses", "n", "sum", "sumsq", "n1", "n2", "n3", "n4", "n5"];
    let summed: Vec<String> = counts.iter().map(|c| format!("sum(d{c}) AS {c}")).collect();
    let negated: Vec<String> = counts.iter().map(|c| format!("-{c} AS d{c}")).collect();
    let changed: Vec<String> = counts.iter().map(|c| format!("{c} != 0")).collect();
    // As migration 0018's view computes them.
    let sql = format!(
        "SELECT day, journey, stage, touchpoint, channel, segment, question_set, question, {summed} \
         FROM ( \
           SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, question_set, \
                  questions[arrayJoin(arrayEnumerate(questions)) AS position] AS question, \
                  toInt64(countIf(position = 1)) AS dresponses, toInt64(count()) AS dn, \
                  toInt64(sum(scores[position])) AS dsum, \
                  toInt64(sum(scores[position] * scores[position])) AS dsumsq, \
                  toInt64(countIf(scores[position] = 1)) AS dn1, toInt64(countIf(scores[position] = 2)) AS dn2, \
                  toInt64(countIf(scores[position] = 3)) AS dn3, toInt64(countIf(scores[position] = 4)) AS dn4, \
                  toInt64(countIf(scores[position] = 5)) AS dn5 \
           FROM answers FINAL \
           WHERE journey = ? AND occurred_at >= toDateTime({from}) AND occurred_at < toDateTime({to}) \
           GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question \
           UNION ALL \
           SELECT day, journey, stage, touchpoint, channel, segment, question_set, question, {negated} \
           FROM answers_daily WHERE journey = ? AND day = toDate(?) \
         ) \
         GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question \
         HAVING {changed}",
        summed = summed.join(", "),
        negated = negated.join(", "),
        changed = changed.join(" OR "),
        to = from + 86_400,
    );
    add_difference::<AnswersDaily>(client, "answers_daily", &sql, journey, day).await
}

/// A row of `offers_daily`; as a repair, the difference to add.
#[derive(Debug, Row, Serialize, Deserialize)]
struct OffersDaily {
    day: u16,
    journey: String,
    stage: String,
    touchpoint: String,
    channel: String,
    kind: i8,
    question_set: String,
    n: i64,
}

async fn offers_daily(client: &Client, journey: &str, day: u16) -> clickhouse::error::Result<usize> {
    let from = u64::from(day) * 86_400;
    let sql = format!(
        "SELECT day, journey, stage, touchpoint, channel, kind, question_set, sum(dn) AS n \
         FROM ( \
           SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, kind, question_set, \
                  toInt64(count()) AS dn \
           FROM offers FINAL \
           WHERE journey = ? AND occurred_at >= toDateTime({from}) AND occurred_at < toDateTime({to}) \
           GROUP BY day, journey, stage, touchpoint, channel, kind, question_set \
           UNION ALL \
           SELECT day, journey, stage, touchpoint, channel, kind, question_set, -n AS dn \
           FROM offers_daily WHERE journey = ? AND day = toDate(?) \
         ) \
         GROUP BY day, journey, stage, touchpoint, channel, kind, question_set \
         HAVING n != 0",
        to = from + 86_400,
    );
    add_difference::<OffersDaily>(client, "offers_daily", &sql, journey, day).await
}

/// Runs a difference query (raw sums minus the rollup's, bound to `journey`
/// twice and `day`) and adds what it finds to `rollup`; returns the rows added.
async fn add_difference<T>(
    client: &Client,
    rollup: &str,
    sql: &str,
    journey: &str,
    day: u16,
) -> clickhouse::error::Result<usize>
where
    T: clickhouse::RowOwned + clickhouse::RowRead + clickhouse::RowWrite,
{
    let delta: Vec<T> = client.query(sql).bind(journey).bind(journey).bind(date(day)).fetch_all().await?;
    insert(client, rollup, &delta).await?;
    Ok(delta.len())
}

async fn insert<T: clickhouse::RowOwned + clickhouse::RowWrite>(
    client: &Client,
    table: &str,
    rows: &[T],
) -> clickhouse::error::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// The key of a `stage_time_daily` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StageKey {
    day: u16,
    journey: String,
    stage: String,
    touchpoint: String,
    channel: String,
    segment: i8,
}

#[derive(Debug, Row, Deserialize)]
struct Shortfall {
    day: u16,
    journey: String,
    stage: String,
    touchpoint: String,
    channel: String,
    segment: i8,
    /// Raw rows minus the rollup's count; positive when the rollup is short.
    short: i64,
}

impl Shortfall {
    fn key(self) -> (StageKey, i64) {
        let Shortfall { day, journey, stage, touchpoint, channel, segment, short } = self;
        (StageKey { day, journey, stage, touchpoint, channel, segment }, short)
    }
}

/// The found rows that feed `stage_time_daily`, by key: (timings, ratings).
type Candidates = BTreeMap<StageKey, (Vec<Uuid>, Vec<Uuid>)>;

fn candidates(found: &AlreadyStored) -> Candidates {
    let mut by_key = Candidates::new();
    let key = |day, journey: &str, stage: &str, touchpoint: &str, channel: &str, segment| StageKey {
        day,
        journey: journey.into(),
        stage: stage.into(),
        touchpoint: touchpoint.into(),
        channel: channel.into(),
        segment,
    };
    for r in found.timings.iter().filter(|r| r.measure == MEASURE_TASK) {
        let k = key(day_of(r.occurred_at), &r.journey, &r.stage, &r.touchpoint, &r.channel, r.segment);
        by_key.entry(k).or_default().0.push(r.event_id);
    }
    for r in found.feedback.iter().filter(|r| r.reported_duration_ms.is_some()) {
        let k = key(day_of(r.occurred_at), &r.journey, &r.stage, &r.touchpoint, &r.channel, r.segment);
        by_key.entry(k).or_default().1.push(r.event_id);
    }
    by_key
}

async fn stage_time_daily(client: &Client, found: &AlreadyStored) -> clickhouse::error::Result<usize> {
    let candidates = candidates(found);
    let days: BTreeSet<Day> = candidates.keys().map(|k| (k.journey.clone(), k.day)).collect();
    let mut repaired = 0;
    for (journey, day) in &days {
        for (key, short) in stage_shortfalls(client, journey, *day).await?.into_iter().map(Shortfall::key) {
            let (timings, ratings) = candidates.get(&key).cloned().unwrap_or_default();
            let (t, r) = (timings.len() as i64, ratings.len() as i64);
            let sources: &[(&str, &[Uuid])] = match short {
                s if s == t + r => &[("timings", &timings), ("feedback", &ratings)],
                s if s == t && s != r => &[("timings", &timings)],
                s if s == r && s != t => &[("feedback", &ratings)],
                _ => {
                    tracing::error!(
                        ?key,
                        short,
                        timings = t,
                        ratings = r,
                        "stage_time_daily disagrees with the raw tables and cannot be mended from this round"
                    );
                    continue;
                }
            };
            for (table, ids) in sources.iter().filter(|(_, ids)| !ids.is_empty()) {
                add_stage_states(client, table, ids).await?;
                repaired += 1;
            }
        }
    }
    Ok(repaired)
}

async fn stage_shortfalls(client: &Client, journey: &str, day: u16) -> clickhouse::error::Result<Vec<Shortfall>> {
    let from = u64::from(day) * 86_400;
    let sql = format!(
        "SELECT day, journey, stage, touchpoint, channel, segment, sum(c) AS short \
         FROM ( \
           SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, toInt64(count()) AS c \
           FROM timings FINAL \
           WHERE measure = 'task' AND journey = ? AND occurred_at >= toDateTime({from}) AND occurred_at < toDateTime({to}) \
           GROUP BY day, journey, stage, touchpoint, channel, segment \
           UNION ALL \
           SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, toInt64(count()) AS c \
           FROM feedback FINAL \
           WHERE isNotNull(reported_duration_ms) AND journey = ? \
             AND occurred_at >= toDateTime({from}) AND occurred_at < toDateTime({to}) \
           GROUP BY day, journey, stage, touchpoint, channel, segment \
           UNION ALL \
           SELECT day, journey, stage, touchpoint, channel, segment, -toInt64(countMerge(n)) AS c \
           FROM stage_time_daily WHERE journey = ? AND day = toDate(?) \
           GROUP BY day, journey, stage, touchpoint, channel, segment \
         ) \
         GROUP BY day, journey, stage, touchpoint, channel, segment \
         HAVING short != 0",
        to = from + 86_400,
    );
    client.query(&sql).bind(journey).bind(journey).bind(journey).bind(date(day)).fetch_all().await
}

/// Adds the states of the rows `ids` of `table` (timings or feedback), as the
/// table's view into `stage_time_daily` would have.
async fn add_stage_states(client: &Client, table: &str, ids: &[Uuid]) -> clickhouse::error::Result<()> {
    let value = if table == "timings" { "duration_ms" } else { "assumeNotNull(reported_duration_ms)" };
    let ids = ids.iter().map(|id| format!("toUUID('{id}')")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO stage_time_daily \
         SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, \
                countState() AS n, quantilesState(0.5, 0.9)(toFloat64({value})) AS q \
         FROM {table} WHERE event_id IN ({ids}) \
         GROUP BY day, journey, stage, touchpoint, channel, segment"
    );
    client.query(&sql).execute().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days_since_the_epoch() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(20_424), "2025-12-02");
        assert_eq!(day_of(20_424 * 86_400 + 86_399), 20_424);
    }
}
