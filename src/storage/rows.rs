//! One struct per event table, field for field as in `migrations/`; the
//! integration tests insert and read back each one.
//!
//! `Enum8` columns travel as their `i8` codes (see the `code` functions of the
//! capture module); `DateTime` as seconds since the epoch.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct FeedbackRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub occurred_at: u32,
    pub received_at: u32,
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub channel: String,
    pub segment: i8,
    pub scale: i8,
    pub score: u8,
    pub emotion: i8,
    pub comment: String,
    pub tags: Vec<String>,
    pub reported_duration_ms: Option<u64>,
    pub locale: String,
    pub session_id: String,
    pub page_path: String,
    pub case_ref: String,
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct TimingRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub occurred_at: u32,
    pub received_at: u32,
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub channel: String,
    pub segment: i8,
    pub measure: i8,
    pub source: i8,
    pub duration_ms: u64,
    pub session_id: String,
    pub page_path: String,
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CallRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub started_at: u32,
    pub received_at: u32,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub process: String,
    pub operator: String,
    pub segment: i8,
    pub wait_seconds: u32,
    pub talk_seconds: u32,
    pub transfers: u8,
    pub resolved: u8,
    pub rating_scale: i8,
    pub rating_score: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LetterRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub letter_id: String,
    pub received_at: u32,
    pub acknowledged_at: Option<u32>,
    pub answered_at: Option<u32>,
    pub updated_at: u32,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub process: String,
    pub segment: i8,
}

/// A row of the `feedback_daily` rollup. The materialized view adds each rating;
/// a row written directly, with negative counts, takes one back out (a rating
/// replaced by a later one with the same event id).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct FeedbackDailyRow {
    /// Days since the epoch (UTC).
    pub day: u16,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub channel: String,
    pub segment: i8,
    pub n: i64,
    pub sum: f64,
    pub sumsq: f64,
    pub positive: i64,
    pub negative: i64,
}

/// An accepted event on its way to ClickHouse.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Feedback(FeedbackRow),
    Timing(TimingRow),
    Call(CallRow),
    Letter(LetterRow),
    /// Written after the rating it corrects: one writer keeps the order.
    Correction(FeedbackDailyRow),
}

pub const FEEDBACK: &str = "feedback";
pub const TIMINGS: &str = "timings";
pub const CALLS: &str = "calls";
pub const CORRESPONDENCE: &str = "correspondence";
pub const FEEDBACK_DAILY: &str = "feedback_daily";
