//! The queue as ClickHouse computes it: each case with its status and step
//! times folded from its log, filtered, sorted by deadline and paged in the
//! query, so a page of 50 costs the same with 100,000 cases behind it. The
//! status is the last change's (the log holds only changes the rules
//! accepted: `status::State::apply` runs before a change is stored), and the
//! step times follow `State::apply`: acknowledging is the first change that
//! is not a close as spam.

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::status::{Resolution, State, Status};
use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

/// Which cases, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    pub units: Vec<String>,
    pub status: Option<Status>,
    /// Leave out closed cases.
    pub open_only: bool,
    pub stage: Option<String>,
    /// Only cases past a deadline at `now`.
    pub overdue: bool,
    /// Unix seconds.
    pub now: u32,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Row, Deserialize)]
struct QueueRow {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    opened_at: u32,
    journey: String,
    stage: String,
    touchpoint: String,
    unit: String,
    reason: String,
    acknowledge_by: u32,
    answer_by: u32,
    status: String,
    acknowledged_at: u32,
    answered_at: u32,
    closed_at: u32,
    answer: String,
    resolution: String,
}

/// Binds: units, stage (twice), status (twice), open only, overdue, now
/// (twice), limit, offset. The log is folded without FINAL and for every case:
/// a change stored twice folds the same (same `seq`, same action and time),
/// and filtering the log by unit would cost another scan of `cases`
/// (BENCHMARKS.md, "The case queue"). Run on current ClickHouse by `tests/it/migrations.rs` too.
pub const QUEUE: &str = "
SELECT event_id, opened_at, journey, stage, touchpoint, unit, reason, acknowledge_by, answer_by,
       multiIf(last_action = 'acknowledge', 'acknowledged', last_action = 'start', 'in_progress',
               last_action = 'answer', 'answered', last_action = 'close', 'closed', 'new') AS status,
       acknowledged_at, answered_at, closed_at, answer, closed_as AS resolution
FROM (SELECT * FROM cases FINAL WHERE has(?, unit)) AS c
ANY LEFT JOIN (
    SELECT case_id AS event_id,
           argMax(action, seq) AS last_action,
           toUInt32(minIf(at, NOT (action = 'close' AND resolution = 'spam'))) AS acknowledged_at,
           toUInt32(minIf(at, action = 'answer')) AS answered_at,
           toUInt32(minIf(at, action = 'close')) AS closed_at,
           anyIf(text, action = 'answer') AS answer,
           anyIf(resolution, action = 'close') AS closed_as
    FROM case_changes
    GROUP BY case_id
) AS log USING event_id
WHERE (? = '' OR stage = ?)
  AND (? = '' OR status = ?)
  AND (? = 0 OR status != 'closed')
  AND (? = 0 OR (status != 'closed' AND ((acknowledged_at = 0 AND ? >= toUInt32(acknowledge_by))
                                        OR (answered_at = 0 AND ? >= toUInt32(answer_by)))))
ORDER BY answer_by, event_id
LIMIT ? OFFSET ?";

/// The page of the queue `query` asks for: each case with its state as its log
/// leaves it.
pub async fn page(storage: &Storage, query: &QueueQuery) -> Result<Vec<(CaseRow, State)>, StorageError> {
    let status = query.status.map_or("", Status::name);
    let stage = query.stage.as_deref().unwrap_or("");
    let rows: Vec<QueueRow> = storage
        .client()
        .query(QUEUE)
        .bind(&query.units)
        .bind(stage)
        .bind(stage)
        .bind(status)
        .bind(status)
        .bind(u8::from(query.open_only))
        .bind(u8::from(query.overdue))
        .bind(query.now)
        .bind(query.now)
        .bind(query.limit)
        .bind(query.offset)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(split).collect())
}

fn split(row: QueueRow) -> (CaseRow, State) {
    let at = |t: u32| (t != 0).then_some(t);
    let status = Status::of(&row.status).unwrap_or(Status::New);
    let resolution = Resolution::of(&row.resolution);
    let state = State::stored(
        status,
        [at(row.acknowledged_at), at(row.answered_at), at(row.closed_at)],
        (row.answered_at != 0).then_some(row.answer),
        resolution.filter(|_: &Resolution| status == Status::Closed),
    );
    let case = CaseRow {
        event_id: row.event_id,
        opened_at: row.opened_at,
        journey: row.journey,
        stage: row.stage,
        touchpoint: row.touchpoint,
        unit: row.unit,
        reason: row.reason,
        acknowledge_by: row.acknowledge_by,
        answer_by: row.answer_by,
    };
    (case, state)
}

/// What the event that opened a case said: the rating and its comment, or
/// the call's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Context {
    /// When it happened (unix seconds).
    #[serde(skip)]
    pub at: u32,
    /// `csat`, `nps`, `ces` or `thumbs`; none for a call without a rating.
    pub scale: Option<&'static str>,
    pub score: Option<u8>,
    pub comment: String,
    pub tags: Vec<String>,
    /// The channel of the touchpoint, `phone` for a call.
    pub channel: String,
    /// A call's transfers, wait and talk time.
    pub transfers: Option<u8>,
    pub wait_seconds: Option<u32>,
    pub talk_seconds: Option<u32>,
}

#[derive(Row, Deserialize)]
struct RatingContext {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    received_at: u32,
    site: String,
    occurred_at: u32,
    channel: String,
    scale: i8,
    score: u8,
    comment: String,
    tags: Vec<String>,
}

#[derive(Row, Deserialize)]
struct CallContext {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    received_at: u32,
    started_at: u32,
    rating_scale: i8,
    rating_score: Option<u8>,
    transfers: u8,
    wait_seconds: u32,
    talk_seconds: u32,
}

/// How long before it arrived an event may say it happened: a staff
/// system's log of the last 90 days (`domain::time::STAFF_MAX_AGE`), a
/// rating link's issue time up to its 30-day life, a phone offline a week.
const CLAIMED_BEFORE: u32 = 92 * 24 * 3600;

/// The opening events of `cases`, by case id. The look-up goes through the
/// events tables' sort key (journey, stage; `IN (SELECT ...)` uses it where
/// `has` would not) and month partitions (around when the cases opened),
/// not over every event ever stored.
pub async fn contexts(storage: &Storage, cases: &[&CaseRow]) -> Result<Vec<(Uuid, Context)>, StorageError> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = cases.iter().map(|c| c.event_id.to_string()).collect();
    let set = |f: fn(&CaseRow) -> &str| {
        let mut v: Vec<&str> = cases.iter().map(|c| f(c)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (journeys, stages) = (set(|c| &c.journey), set(|c| &c.stage));
    let from = cases.iter().map(|c| c.opened_at).min().unwrap_or(0).saturating_sub(CLAIMED_BEFORE);
    let to = cases
        .iter()
        .map(|c| c.opened_at)
        .max()
        .unwrap_or(0)
        .saturating_add(crate::domain::time::MAX_SKEW.as_secs() as u32);
    // What opened a case is stored on the shard of the instance that took it.
    let ratings: Vec<RatingContext> = storage
        .client()
        .query(&format!(
            "SELECT ?fields FROM {} FINAL WHERE journey IN (SELECT arrayJoin(?)) AND stage IN (SELECT arrayJoin(?)) \
             AND occurred_at >= toDateTime(?) AND occurred_at <= toDateTime(?) AND event_id IN (SELECT toUUID(arrayJoin(?)))",
            storage.everywhere("feedback")
        ))
        .bind(&journeys)
        .bind(&stages)
        .bind(from)
        .bind(to)
        .bind(&ids)
        .fetch_all()
        .await?;
    let calls: Vec<CallContext> = storage
        .client()
        .query(&format!(
            "SELECT ?fields FROM {} FINAL WHERE journey IN (SELECT arrayJoin(?)) AND stage IN (SELECT arrayJoin(?)) \
             AND started_at >= toDateTime(?) AND started_at <= toDateTime(?) AND event_id IN (SELECT toUUID(arrayJoin(?)))",
            storage.everywhere("calls")
        ))
        .bind(&journeys)
        .bind(&stages)
        .bind(from)
        .bind(to)
        .bind(&ids)
        .fetch_all()
        .await?;
    // A case opened when the event that opened it arrived: another event
    // posted later with the same id (of another kind) is not what opened it.
    // A rating link's later clicks move its version on; only its letter's
    // holder makes them.
    let opened: std::collections::HashMap<Uuid, u32> = cases.iter().map(|c| (c.event_id, c.opened_at)).collect();
    let opened_by = |id: &Uuid, at: u32| opened.get(id) == Some(&at);
    let ratings =
        ratings.into_iter().filter(|r| r.site == crate::ingest::EMAIL_SITE || opened_by(&r.event_id, r.received_at));
    let calls = calls.into_iter().filter(|c| opened_by(&c.event_id, c.received_at));
    Ok(ratings.map(RatingContext::context).chain(calls.map(CallContext::context)).collect())
}

fn scale_name(code: i8) -> Option<&'static str> {
    crate::domain::Scale::from_code(code).map(crate::domain::Scale::as_str)
}

impl RatingContext {
    fn context(self) -> (Uuid, Context) {
        let context = Context {
            at: self.occurred_at,
            scale: scale_name(self.scale),
            score: Some(self.score),
            comment: self.comment,
            tags: self.tags,
            channel: self.channel,
            transfers: None,
            wait_seconds: None,
            talk_seconds: None,
        };
        (self.event_id, context)
    }
}

impl CallContext {
    fn context(self) -> (Uuid, Context) {
        let context = Context {
            at: self.started_at,
            scale: self.rating_score.and_then(|_| scale_name(self.rating_scale)),
            score: self.rating_score,
            comment: String::new(),
            tags: Vec::new(),
            channel: "phone".into(),
            transfers: Some(self.transfers),
            wait_seconds: Some(self.wait_seconds),
            talk_seconds: Some(self.talk_seconds),
        };
        (self.event_id, context)
    }
}
