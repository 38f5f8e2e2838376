//! The numbers behind the journey view, read from ClickHouse in a handful of
//! aggregate queries run side by side.
//!
//! Scores are normalised to 0–100 whatever the scale (csat 1–5, nps 0–10,
//! ces 1–7, thumbs 0–1; the formula is in migration 0006). The 95% confidence interval is the normal one,
//! mean ± 1.96·s/√n. Periods are whole UTC days, as the daily rollups hold them.

use std::collections::BTreeMap;
use std::future::Future;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::journeys::model::{Journey, Metric, Text};
use crate::storage::{Storage, StorageError};

/// What the URL asks for: a period and optional touchpoint, channel, segment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Filters {
    /// Seconds since the epoch, inclusive.
    pub from: u32,
    /// Seconds since the epoch, exclusive.
    pub to: u32,
    pub touchpoint: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
}

impl Filters {
    /// The WHERE clause for `journey` in this period, and its bind values in
    /// order; `day` is the Date column of the rollups, anything else a DateTime.
    pub(crate) fn clause(&self, time_column: &str) -> (String, Vec<String>) {
        let bound = if time_column == "day" { "toDate(toDateTime(?), 'UTC')" } else { "toDateTime(?)" };
        let mut sql = format!("journey = ? AND {time_column} >= {bound} AND {time_column} < {bound}");
        let mut binds = vec![self.from.to_string(), self.to.to_string()];
        for (column, value) in
            [("touchpoint", &self.touchpoint), ("channel", &self.channel), ("segment", &self.segment)]
        {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                binds.push(v.clone());
            }
        }
        (sql, binds)
    }
}

pub(crate) fn query(storage: &Storage, sql: &str, journey: &str, binds: &[String]) -> clickhouse::query::Query {
    let mut q = storage.client().query(sql).bind(journey);
    for b in binds {
        q = q.bind(b.as_str());
    }
    q
}

#[derive(Debug, Row, Deserialize)]
struct CellRow {
    stage: String,
    touchpoint: String,
    n: u64,
    sum: f64,
    sumsq: f64,
    positive: u64,
    negative: u64,
}

#[derive(Debug, Row, Deserialize)]
struct TimeRow {
    stage: String,
    n: u64,
    q: Vec<f64>,
}

#[derive(Debug, Row, Deserialize)]
struct PointRow {
    stage: String,
    bucket: u32,
    n: u64,
    sum: f64,
}

#[derive(Debug, Default, Row, Deserialize)]
struct CallsRow {
    n: u64,
    over: u64,
}

#[derive(Debug, Default, Row, Deserialize)]
struct LettersRow {
    n: u64,
    acknowledged: u64,
    answered: u64,
    ack_q: Vec<f64>,
    answer_q: Vec<f64>,
    ack_hist: Vec<u64>,
    answer_hist: Vec<u64>,
}

#[derive(Debug, Row, Deserialize, Serialize)]
pub struct Comment {
    pub stage: String,
    pub emotion: String,
    pub comment: String,
    pub occurred_at: u32,
}

/// Sums that add up: a stage's figures are computed from its cells'.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: u64,
    sum: f64,
    sumsq: f64,
    positive: u64,
    negative: u64,
}

/// The mean of `n` values from their sum and sum of squares, and its 95%
/// interval (mean ± 1.96·s/√n) kept within the scale's `bounds`. `n` > 0.
pub fn interval(n: u64, sum: f64, sumsq: f64, bounds: (f64, f64)) -> (f64, (f64, f64)) {
    let count = n as f64;
    let mean = sum / count;
    let variance = if n > 1 { ((sumsq - count * mean * mean) / (count - 1.0)).max(0.0) } else { 0.0 };
    let half = 1.96 * variance.sqrt() / count.sqrt();
    (mean, ((mean - half).max(bounds.0), (mean + half).min(bounds.1)))
}

impl Sums {
    fn add(&mut self, r: &CellRow) {
        self.n += r.n;
        self.sum += r.sum;
        self.sumsq += r.sumsq;
        self.positive += r.positive;
        self.negative += r.negative;
    }

    fn score(&self, min: u64) -> Score {
        if self.n < min || self.n == 0 {
            return Score { n: self.n, too_few: true, ..Score::default() };
        }
        let n = self.n as f64;
        let (mean, ci95) = interval(self.n, self.sum, self.sumsq, (0.0, 100.0));
        Score {
            n: self.n,
            too_few: false,
            score: Some(mean),
            ci95: Some(ci95),
            emotion: Some(100.0 * (self.positive as f64 - self.negative as f64) / n),
            positive: Some(self.positive as f64 / n),
            negative: Some(self.negative as f64 / n),
        }
    }
}

/// A score with its sample size; `too_few` when n is under the threshold, and
/// then no number at all (never a zero).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    pub n: u64,
    pub too_few: bool,
    pub score: Option<f64>,
    pub ci95: Option<(f64, f64)>,
    /// Share positive minus share negative, −100..100: the map's emotion row, measured.
    pub emotion: Option<f64>,
    pub positive: Option<f64>,
    pub negative: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Time {
    pub n: u64,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub target_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub touchpoint: String,
    #[serde(flatten)]
    pub score: Score,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Start of the day or week, seconds since the epoch.
    pub at: u32,
    pub n: u64,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStats {
    pub id: String,
    pub number: usize,
    pub name: Text,
    #[serde(flatten)]
    pub score: Score,
    pub time: Time,
    pub touchpoints: Vec<Cell>,
    pub timeline: Vec<Point>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Calls {
    pub n: u64,
    /// Calls with more than two transfers (3.2.4 of the order).
    pub over_two_transfers: u64,
    pub share_over: Option<f64>,
}

/// Upper bounds of the delay buckets, in hours; the last bucket is open.
pub const DELAY_BUCKETS_H: [u32; 5] = [1, 4, 24, 72, 168];

#[derive(Debug, Clone, Default, Serialize)]
pub struct Letters {
    pub n: u64,
    pub acknowledged: u64,
    pub answered: u64,
    pub ack_median_h: Option<f64>,
    pub ack_p90_h: Option<f64>,
    pub answer_median_h: Option<f64>,
    pub answer_p90_h: Option<f64>,
    /// Counts per bucket of [`DELAY_BUCKETS_H`], then the open one.
    pub ack_histogram: Vec<u64>,
    pub answer_histogram: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JourneyStats {
    pub journey: String,
    pub filters: Filters,
    /// `day` or `week`, the step of each stage's timeline.
    pub step: &'static str,
    pub min_answers: u64,
    pub stages: Vec<StageStats>,
    pub calls: Calls,
    pub letters: Letters,
    /// The days the journey's recommendations were implemented, for the
    /// timeline chart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<crate::recommendations::Mark>,
}

fn quantiles(q: &[f64], n: u64) -> (Option<f64>, Option<f64>) {
    if n == 0 || q.len() < 2 { (None, None) } else { (Some(q[0]), Some(q[1])) }
}

/// Which of the numbers a caller needs; a single chart reads only its own.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub timeline: bool,
    pub times: bool,
    pub standards: bool,
}

impl Parts {
    pub const ALL: Parts = Parts { timeline: true, times: true, standards: true };
    /// Scores and volumes only (the per-stage cells are always read).
    pub const SCORES: Parts = Parts { timeline: false, times: false, standards: false };
}

/// Runs `fetch` when `wanted`, else answers the default at once.
async fn when<T: Default>(
    wanted: bool,
    fetch: impl Future<Output = clickhouse::error::Result<T>>,
) -> clickhouse::error::Result<T> {
    if wanted { fetch.await } else { Ok(T::default()) }
}

#[tracing::instrument(skip_all, fields(journey = %journey.id))]
pub async fn journey_stats(
    storage: &Storage,
    journey: &Journey,
    filters: &Filters,
    min_answers: u64,
    parts: Parts,
) -> Result<JourneyStats, StorageError> {
    // Scores, volumes and times come from the daily rollups (migration 0006):
    // thousands of rows instead of millions. Comments and letters are read raw.
    let (daily_where, binds) = filters.clause("day");
    let week = filters.to.saturating_sub(filters.from) > 45 * 86_400;
    let bucket = if week { "toMonday(day)" } else { "day" };
    // Every shard's rows on a cluster (`Storage::everywhere`).
    let [feedback_daily, stage_time_daily, calls_daily, correspondence] =
        ["feedback_daily", "stage_time_daily", "calls_daily", "correspondence"].map(|t| storage.everywhere(t));

    let cells_sql = format!(
        "SELECT stage, touchpoint, toUInt64(sum(n)) AS answers, sum(sum) AS total, sum(sumsq) AS squares, \
         toUInt64(sum(positive)) AS pos, toUInt64(sum(negative)) AS neg \
         FROM {feedback_daily} WHERE {daily_where} GROUP BY stage, touchpoint HAVING answers > 0"
    );
    let timeline_sql = format!(
        "SELECT stage, toUInt32(toUInt32({bucket}) * 86400) AS at, toUInt64(sum(n)) AS answers, sum(sum) AS total \
         FROM {feedback_daily} WHERE {daily_where} GROUP BY stage, at HAVING answers > 0 ORDER BY stage, at"
    );
    let time_sql = format!(
        "SELECT stage, countMerge(n) AS answers, quantilesMerge(0.5, 0.9)(q) AS qs \
         FROM {stage_time_daily} WHERE {daily_where} GROUP BY stage"
    );
    let calls_sql = format!(
        "SELECT toUInt64(sum(n)) AS answers, toUInt64(sum(over_two_transfers)) AS over FROM {calls_daily} \
         WHERE (journey = ? OR journey = '') AND day >= toDate(toDateTime(?), 'UTC') AND day < toDate(toDateTime(?), 'UTC'){}",
        if filters.segment.is_some() { " AND segment = ?" } else { "" }
    );
    let letters_sql = letters_sql(&correspondence, filters.segment.is_some());
    let mut call_binds = vec![filters.from.to_string(), filters.to.to_string()];
    call_binds.extend(filters.segment.clone());

    let (cells, timeline, times, calls, letters) = tokio::try_join!(
        query(storage, &cells_sql, &journey.id, &binds).fetch_all::<CellRow>(),
        when(parts.timeline, query(storage, &timeline_sql, &journey.id, &binds).fetch_all::<PointRow>()),
        when(parts.times, query(storage, &time_sql, &journey.id, &binds).fetch_all::<TimeRow>()),
        when(parts.standards, query(storage, &calls_sql, &journey.id, &call_binds).fetch_one::<CallsRow>()),
        when(parts.standards, query(storage, &letters_sql, &journey.id, &call_binds).fetch_one::<LettersRow>()),
    )?;

    let stages = stage_stats(journey, &cells, &times, &timeline, min_answers);
    Ok(JourneyStats {
        journey: journey.id.clone(),
        filters: filters.clone(),
        step: if week { "week" } else { "day" },
        min_answers,
        stages,
        calls: Calls {
            n: calls.n,
            over_two_transfers: calls.over,
            share_over: (calls.n > 0).then(|| calls.over as f64 / calls.n as f64),
        },
        letters: letters_of(letters),
        marks: Vec::new(),
    })
}

/// The letters' figures: how many were acknowledged and answered, how fast
/// (quantiles and a histogram of hours), from `correspondence`.
fn letters_sql(correspondence: &str, segment: bool) -> String {
    let hist = |col: &str, has: &str| {
        let mut edges = vec![0u32];
        edges.extend(DELAY_BUCKETS_H.iter().map(|h| h * 3600));
        let mut parts: Vec<String> =
            edges.windows(2).map(|w| format!("countIf({has} AND {col} >= {} AND {col} < {})", w[0], w[1])).collect();
        parts.push(format!("countIf({has} AND {col} >= {})", edges[edges.len() - 1]));
        format!("[{}]", parts.join(", "))
    };
    // Nullable columns are resolved in the inner query: RowBinary needs exact,
    // non-nullable result types.
    format!(
        "SELECT count() AS n, countIf(has_ack) AS acknowledged, countIf(has_answer) AS answered, \
         quantilesIf(0.5, 0.9)(ack / 3600, has_ack) AS ack_q, quantilesIf(0.5, 0.9)(answer / 3600, has_answer) AS answer_q, \
         {} AS ack_hist, {} AS answer_hist FROM (\
         SELECT isNotNull(acknowledged_at) AS has_ack, isNotNull(answered_at) AS has_answer, \
         toFloat64(toInt64(ifNull(acknowledged_at, received_at)) - toInt64(received_at)) AS ack, \
         toFloat64(toInt64(ifNull(answered_at, received_at)) - toInt64(received_at)) AS answer \
         FROM {correspondence} FINAL WHERE (journey = ? OR journey = '') AND received_at >= toDateTime(?) AND received_at < toDateTime(?){})",
        hist("ack", "has_ack"),
        hist("answer", "has_answer"),
        if segment { " AND segment = ?" } else { "" }
    )
}

/// Each stage's figures, in the journey's order, from the rows read.
fn stage_stats(
    journey: &Journey,
    cells: &[CellRow],
    times: &[TimeRow],
    timeline: &[PointRow],
    min_answers: u64,
) -> Vec<StageStats> {
    let mut by_stage: BTreeMap<&str, (Sums, Vec<Cell>)> = BTreeMap::new();
    for row in cells {
        let entry = by_stage.entry(row.stage.as_str()).or_default();
        entry.0.add(row);
        let mut one = Sums::default();
        one.add(row);
        entry.1.push(Cell { touchpoint: row.touchpoint.clone(), score: one.score(min_answers) });
    }
    journey
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let (sums, mut cells) = by_stage.remove(stage.id.as_str()).unwrap_or_default();
            cells.sort_by_key(|c| stage.touchpoints.iter().position(|t| *t == c.touchpoint).unwrap_or(usize::MAX));
            let time = times.iter().find(|t| t.stage == stage.id);
            let (median_ms, p90_ms) = time.map_or((None, None), |t| quantiles(&t.q, t.n));
            let target_ms = stage.metrics.iter().find_map(|m| match m {
                Metric::TimeSpent { target: Some(d) } => Some(d.as_millis() as u64),
                _ => None,
            });
            StageStats {
                id: stage.id.clone(),
                number: i + 1,
                name: stage.name.clone(),
                score: sums.score(min_answers),
                time: Time { n: time.map_or(0, |t| t.n), median_ms, p90_ms, target_ms },
                touchpoints: cells,
                timeline: timeline
                    .iter()
                    .filter(|p| p.stage == stage.id)
                    .map(|p| Point {
                        at: p.bucket,
                        n: p.n,
                        score: (p.n >= min_answers && p.n > 0).then(|| p.sum / p.n as f64),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn letters_of(letters: LettersRow) -> Letters {
    let (ack_median_h, ack_p90_h) = quantiles(&letters.ack_q, letters.acknowledged);
    let (answer_median_h, answer_p90_h) = quantiles(&letters.answer_q, letters.answered);
    Letters {
        n: letters.n,
        acknowledged: letters.acknowledged,
        answered: letters.answered,
        ack_median_h,
        ack_p90_h,
        answer_median_h,
        answer_p90_h,
        ack_histogram: letters.ack_hist,
        answer_histogram: letters.answer_hist,
    }
}

/// How far back from the end of the period comments are listed: the latest are
/// what an analyst reads first, and the CSV export has them all.
pub const COMMENT_DAYS: u32 = 14;

/// The latest comments of each stage, negative and positive, newest first.
#[tracing::instrument(skip_all, fields(journey = %journey))]
pub async fn comments(
    storage: &Storage,
    journey: &str,
    filters: &Filters,
    per_kind: u32,
) -> Result<Vec<Comment>, StorageError> {
    let recent =
        Filters { from: filters.from.max(filters.to.saturating_sub(COMMENT_DAYS * 86_400)), ..filters.clone() };
    let (clause, binds) = recent.clause("occurred_at");
    let sql = format!(
        "SELECT stage, toString(emotion) AS kind, comment, toUInt32(occurred_at) AS at FROM {} \
         WHERE {clause} ORDER BY at DESC LIMIT {per_kind} BY stage, kind",
        storage.everywhere("feedback_comments")
    );
    Ok(query(storage, &sql, journey, &binds).fetch_all().await?)
}

/// Raw ratings for the CSV export, newest first, as strings. The aliases must
/// not reuse column names: ClickHouse would read the WHERE clause through them.
pub async fn raw_feedback<T: clickhouse::RowOwned + clickhouse::RowRead>(
    storage: &Storage,
    journey: &str,
    filters: &Filters,
    limit: u64,
) -> Result<Vec<T>, StorageError> {
    let (clause, binds) = filters.clause("occurred_at");
    let sql = format!(
        "SELECT toString(event_id) AS id, toString(occurred_at) AS occurred, stage, touchpoint, channel, \
         toString(segment) AS segment_name, toString(scale) AS scale_name, score, toString(emotion) AS emotion_name, comment, \
         arrayStringConcat(tags, ',') AS tag_list \
         FROM {} FINAL WHERE {clause} ORDER BY occurred_at DESC LIMIT {limit}",
        storage.everywhere("feedback")
    );
    Ok(query(storage, &sql, journey, &binds).fetch_all().await?)
}
