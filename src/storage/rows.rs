//! One struct per event table, field for field as in `migrations/`; the
//! integration tests insert and read back each one.
//!
//! `Enum8` columns travel as their `i8` codes (the `code` functions of the
//! `domain` types); `DateTime` as seconds since the epoch.

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

/// Takes a replaced rating back out of the `feedback_daily` rollup (negative
/// counts; migration 0008's view adds it there). `event_id` and `received_at`
/// are those of the replacing rating: what a replay checks for.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CorrectionRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub received_at: u32,
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

/// A case an event opened (migration 0009); `event_id` is that event's and
/// the case's id.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CaseRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    /// When the event that opened it arrived: the deadlines count from here.
    pub opened_at: u32,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    /// The stage's unit; empty when the journey names none.
    pub unit: String,
    /// `low_score`, `transfers` or `tag:<id>`.
    pub reason: String,
    pub acknowledge_by: u32,
    pub answer_by: u32,
}

/// An event's touch came with proof that the client made it (migration
/// 0025): the client's own history page shows it.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ProofRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub case_key: [u8; 16],
    pub at: u32,
}

/// One contact with a client's case: an event that carried a case reference
/// (migration 0014). `event_id` and `at` are that event's; the reference is
/// only its keyed hash.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct TouchRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    /// `CaseKey`: 16 bytes, `FixedString(16)`.
    pub case_key: [u8; 16],
    /// When the contact happened: a rating's or timing's `occurred_at`, a
    /// call's `started_at`, a letter's `received_at`.
    pub at: u32,
    pub journey: String,
    /// Empty for a call logged without a stage.
    pub stage: String,
    pub touchpoint: String,
    /// `EventKind` code: which table holds the event.
    pub kind: i8,
}

/// One response to a question set (migration 0018): the questions answered,
/// in the set's order, and their scores 1–5. `site` is empty for the answers
/// given at the end of a call (they travel with the call, under its id).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct AnswersRow {
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
    /// `vk5` or `custom` (`domain::SetKind`).
    pub question_set: String,
    pub questions: Vec<String>,
    pub scores: Vec<u8>,
    pub comment: String,
    pub locale: String,
    pub session_id: String,
    pub page_path: String,
}

/// The widget shown or opened, or a letter's rating links sent (migration
/// 0019): a client asked. `kind`: 1 shown, 2 opened, 3 sent.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct OfferRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub occurred_at: u32,
    pub received_at: u32,
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub channel: String,
    pub kind: i8,
    /// The set offered (`vk5`, `custom`); empty for the single rating.
    pub question_set: String,
}

/// An accepted event on its way to ClickHouse, as the spool stores it. New
/// kinds go last: a variant's position is its code in spool files on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Feedback(FeedbackRow),
    Timing(TimingRow),
    Call(CallRow),
    Letter(LetterRow),
    Correction(CorrectionRow),
    Case(CaseRow),
    Touch(TouchRow),
    Answers(AnswersRow),
    Offer(OfferRow),
    Proof(ProofRow),
}

/// A row the spool ships: its table, and what tells a stored copy of this very
/// write apart from every other row — the event id and the table's version
/// column (a later write of the same event id has a later version).
pub trait Spooled: clickhouse::RowOwned + clickhouse::RowWrite + Send + Sync + 'static {
    const TABLE: &'static str;
    const VERSION: &'static str;
    fn identity(&self) -> (Uuid, u32);
}

macro_rules! spooled {
    ($row:ty, $table:expr, $version:ident) => {
        impl Spooled for $row {
            const TABLE: &'static str = $table;
            const VERSION: &'static str = stringify!($version);
            fn identity(&self) -> (Uuid, u32) {
                (self.event_id, self.$version)
            }
        }
    };
}

spooled!(FeedbackRow, FEEDBACK, received_at);
spooled!(TimingRow, TIMINGS, received_at);
spooled!(CallRow, CALLS, received_at);
spooled!(LetterRow, CORRESPONDENCE, updated_at);
spooled!(CorrectionRow, FEEDBACK_CORRECTIONS, received_at);
spooled!(CaseRow, CASES, opened_at);
spooled!(TouchRow, CASE_TOUCHES, at);
spooled!(AnswersRow, ANSWERS, received_at);
spooled!(OfferRow, OFFERS, received_at);
spooled!(ProofRow, CASE_PROOFS, at);

pub const FEEDBACK: &str = "feedback";
pub const TIMINGS: &str = "timings";
pub const CALLS: &str = "calls";
pub const CORRESPONDENCE: &str = "correspondence";
pub const FEEDBACK_CORRECTIONS: &str = "feedback_corrections";
pub const CASES: &str = "cases";
pub const CASE_TOUCHES: &str = "case_touches";
pub const ANSWERS: &str = "answers";
pub const OFFERS: &str = "offers";
pub const CASE_PROOFS: &str = "case_proofs";

/// A rating row for unit tests: `site` and `score` as given, csat, the
/// rest plain.
/// What every rating has, whichever way it came (widget, letter, phone).
pub struct Rating<'a> {
    pub event_id: Uuid,
    pub occurred_at: u32,
    pub received_at: u32,
    pub journey: &'a str,
    pub stage: &'a str,
    pub touchpoint: &'a str,
    pub channel: crate::domain::Channel,
    pub scale: crate::domain::Scale,
    /// Already checked against the scale.
    pub score: u8,
}

impl Rating<'_> {
    /// The row with the emotion the score expresses and every optional field empty.
    pub fn row(&self) -> FeedbackRow {
        FeedbackRow {
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            received_at: self.received_at,
            site: String::new(),
            journey: self.journey.to_string(),
            stage: self.stage.to_string(),
            touchpoint: self.touchpoint.to_string(),
            channel: self.channel.name(),
            segment: crate::domain::Segment::code(None),
            scale: self.scale.code(),
            score: self.score,
            emotion: self.scale.emotion(self.score).code(),
            comment: String::new(),
            tags: Vec::new(),
            reported_duration_ms: None,
            locale: String::new(),
            session_id: String::new(),
            page_path: String::new(),
            case_ref: String::new(),
        }
    }
}

#[cfg(test)]
pub(crate) fn sample_rating(id: Uuid, site: &str, score: u8) -> FeedbackRow {
    FeedbackRow {
        event_id: id,
        occurred_at: 1,
        received_at: 2,
        site: site.into(),
        journey: "j".into(),
        stage: "s".into(),
        touchpoint: "email".into(),
        channel: "email".into(),
        segment: 0,
        scale: 1,
        score,
        emotion: crate::domain::Scale::Csat.emotion(score).code(),
        comment: String::new(),
        tags: vec![],
        reported_duration_ms: None,
        locale: String::new(),
        session_id: String::new(),
        page_path: String::new(),
        case_ref: String::new(),
    }
}
