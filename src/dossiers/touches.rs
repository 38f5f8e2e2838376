//! Every contact of one client's case, with what each says: ratings and
//! their comments, calls with their transfers, letters with their
//! acknowledgement and answer times, timings, and the case a low rating
//! opened with its status and answer. The analysts' timeline and the
//! client's history page both read it.

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cases::CaseBook;
use crate::cases::status::{State as CaseState, Status};
use crate::domain::{CaseKey, EventKind};
use crate::storage::{Storage, StorageError};

/// One contact, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub event_id: Uuid,
    /// When it happened, unix seconds.
    pub at: u32,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    /// `rating`, `email_rating`, `timing`, `call`, `letter` or `answers`.
    pub kind: String,
    /// A rating's (or a call's) scale and score.
    pub scale: Option<String>,
    pub score: Option<u8>,
    pub comment: Option<String>,
    pub duration_ms: Option<u64>,
    pub transfers: Option<u8>,
    pub wait_seconds: Option<u32>,
    /// A letter's acknowledgement and answer, unix seconds.
    pub acknowledged_at: Option<u32>,
    pub answered_at: Option<u32>,
    /// The case this rating or call opened: its status and the ministry's answer.
    pub case_status: Option<Status>,
    pub case_answer: Option<String>,
    /// A question-set response's answers: question ids and scores 1–5.
    pub questions: Option<Vec<String>>,
    pub scores: Option<Vec<u8>>,
}

#[derive(Row, Deserialize)]
struct TouchLine {
    id: String,
    at: u32,
    journey: String,
    stage: String,
    touchpoint: String,
    kind: i8,
}

#[derive(Row, Deserialize)]
struct Rated {
    id: String,
    scale: String,
    score: u8,
    comment: String,
}

#[derive(Row, Deserialize)]
struct Called {
    id: String,
    transfers: u8,
    wait_seconds: u32,
}

#[derive(Row, Deserialize)]
struct Written {
    id: String,
    acknowledged_at: Option<u32>,
    answered_at: Option<u32>,
}

#[derive(Row, Deserialize)]
struct Answered {
    id: String,
    questions: Vec<String>,
    scores: Vec<u8>,
}

#[derive(Row, Deserialize)]
struct Timed {
    id: String,
    duration_ms: u64,
}

/// Who reads a case's contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The lab: every event that named the case, however it came.
    Lab,
    /// The client, on their own history page (order 2.9.5): only what came
    /// with proof from the ministry — a staff call or letter, a rating
    /// clicked in its letter, and what `case_proofs` holds (a reference
    /// signed by touchpoint, a letter's set link). A plain application
    /// number from the widget could have been posted by anyone.
    Client,
}

pub const TOUCHES: &str = "SELECT toString(event_id) AS id, toUInt32(at) AS at, journey, stage, touchpoint, \
    toInt8(kind) AS kind FROM case_touches FINAL WHERE case_key = toFixedString(unhex(?), 16) ORDER BY at, id";
// Each newest state by its version column: FINAL would read whole tables.
const RATED: &str = "SELECT id, argMax(s, received_at) AS scale, argMax(v, received_at) AS score, \
    argMax(c, received_at) AS comment FROM (SELECT toString(event_id) AS id, toString(scale) AS s, score AS v, \
    comment AS c, received_at FROM feedback WHERE event_id IN (SELECT toUUID(arrayJoin(?)))) GROUP BY id";
const CALLED: &str = "SELECT id, argMax(t, received_at) AS transfers, argMax(w, received_at) AS wait_seconds \
    FROM (SELECT toString(event_id) AS id, transfers AS t, wait_seconds AS w, received_at FROM calls \
    WHERE event_id IN (SELECT toUUID(arrayJoin(?)))) GROUP BY id";
const WRITTEN: &str = "SELECT id, argMax(a, updated_at) AS acknowledged_at, argMax(b, updated_at) AS answered_at \
    FROM (SELECT toString(event_id) AS id, acknowledged_at AS a, answered_at AS b, updated_at FROM correspondence \
    WHERE event_id IN (SELECT toUUID(arrayJoin(?)))) GROUP BY id";
const ANSWERED: &str = "SELECT id, argMax(q, received_at) AS questions, argMax(s, received_at) AS scores \
    FROM (SELECT toString(event_id) AS id, questions AS q, scores AS s, received_at FROM answers \
    WHERE event_id IN (SELECT toUUID(arrayJoin(?)))) GROUP BY id";
const TIMED: &str = "SELECT toString(event_id) AS id, any(duration_ms) AS duration_ms FROM timings \
    WHERE event_id IN (SELECT toUUID(arrayJoin(?))) GROUP BY id";

/// Every contact of the case `key`, oldest first; empty when it has none.
pub async fn contacts(storage: &Storage, key: CaseKey, reader: Reader) -> Result<Vec<Contact>, StorageError> {
    let client = storage.client();
    let mut lines: Vec<TouchLine> =
        client.query(&storage.everywhere_in(TOUCHES)).bind(key.to_string()).fetch_all().await?;
    if reader == Reader::Client {
        let proven: std::collections::HashSet<String> = client
            .query("SELECT toString(event_id) FROM case_proofs WHERE case_key = toFixedString(unhex(?), 16)")
            .bind(key.to_string())
            .fetch_all::<String>()
            .await?
            .into_iter()
            .collect();
        lines.retain(|line| {
            let by_kind = matches!(
                EventKind::from_code(line.kind),
                Some(EventKind::Call | EventKind::Letter | EventKind::EmailRating)
            );
            by_kind || proven.contains(&line.id)
        });
    }
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = lines.iter().map(|l| l.id.clone()).collect();
    let (rated, called, written, timed, answered) = tokio::try_join!(
        by_id(storage, RATED, &ids, |r: &Rated| &r.id),
        by_id(storage, CALLED, &ids, |r: &Called| &r.id),
        by_id(storage, WRITTEN, &ids, |r: &Written| &r.id),
        by_id(storage, TIMED, &ids, |r: &Timed| &r.id),
        by_id(storage, ANSWERED, &ids, |r: &Answered| &r.id),
    )?;
    let uuids: Vec<Uuid> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    let book = CaseBook::new(storage.clone());
    let opened = book.opened_by(&uuids).await?;
    let logs = book.logs(&uuids).await?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let kind = EventKind::from_code(line.kind).unwrap_or(EventKind::Rating);
            let rating = rated.get(&line.id).filter(|_| !matches!(kind, EventKind::Timing | EventKind::Letter));
            let call = called.get(&line.id).filter(|_| kind == EventKind::Call);
            let letter = written.get(&line.id).filter(|_| kind == EventKind::Letter);
            // A call's answers travel under its id: they show with the call.
            let set = answered.get(&line.id).filter(|_| matches!(kind, EventKind::Answers | EventKind::Call));
            let event_id: Uuid = line.id.parse().unwrap_or_default();
            let case = opened.contains(&event_id).then(|| CaseState::replay(logs.get(&event_id).into_iter().flatten()));
            Contact {
                event_id,
                at: line.at,
                journey: line.journey,
                stage: line.stage,
                touchpoint: line.touchpoint,
                kind: kind.name().to_string(),
                scale: rating.map(|r| r.scale.clone()),
                score: rating.map(|r| r.score),
                comment: rating.map(|r| r.comment.clone()).filter(|c| !c.is_empty()),
                duration_ms: timed.get(&line.id).filter(|_| kind == EventKind::Timing).map(|t| t.duration_ms),
                transfers: call.map(|c| c.transfers),
                wait_seconds: call.map(|c| c.wait_seconds),
                acknowledged_at: letter.and_then(|l| l.acknowledged_at),
                answered_at: letter.and_then(|l| l.answered_at),
                case_status: case.as_ref().and_then(|s| s.status),
                case_answer: case.and_then(|s| s.answer),
                questions: set.map(|a| a.questions.clone()),
                scores: set.map(|a| a.scores.clone()),
            }
        })
        .collect())
}

impl Contact {
    /// A set response's answers in words, `question — score; …`, each
    /// question as the stage's set words it (its id if no longer asked).
    pub fn answers_text(&self, catalog: &crate::journeys::Catalog, en: bool) -> Option<String> {
        let (questions, scores) = (self.questions.as_ref()?, self.scores.as_ref()?);
        let set = catalog.journey(&self.journey)?.stages.iter().find(|s| s.id == self.stage)?.question_set();
        let words = questions.iter().zip(scores).map(|(id, score)| {
            let text = set.as_ref().and_then(|s| s.question(id)).map_or(id.as_str(), |q| q.text(en));
            format!("{text} — {score}")
        });
        Some(words.collect::<Vec<_>>().join("; "))
    }
}

/// The rows `sql` finds for the events `ids`, by event id.
async fn by_id<T>(
    storage: &Storage,
    sql: &str,
    ids: &[String],
    id: fn(&T) -> &String,
) -> Result<HashMap<String, T>, StorageError>
where
    T: clickhouse::RowOwned + clickhouse::RowRead,
{
    let rows: Vec<T> = storage.client().query(&storage.everywhere_in(sql)).bind(ids).fetch_all().await?;
    Ok(rows.into_iter().map(|r| (id(&r).clone(), r)).collect())
}
