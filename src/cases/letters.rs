//! A client's letter not acknowledged in time (order 3.2.5) opens a case: a
//! round reads the letters received in the last 30 days and opens one for
//! each whose term (the journey's `letter_acknowledge_within` working days)
//! ended before it was acknowledged, or has ended and it is not yet. The case's id comes
//! from the letter's identity and it opens at the end of that term, so every
//! round writes the same row and a restart or a second round adds nothing.

use std::time::{Duration, SystemTime};

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::open::{Deadlines, Opening};
use super::rules::Reason;
use crate::domain::time::unix;
use crate::journeys::Catalog;
use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

/// How far back a round looks.
const WINDOW: u32 = 30 * 24 * 3600;

/// The namespace of the case ids of letters (a fixed random UUID).
const LETTERS: Uuid = Uuid::from_u128(0x6b1f_03a2_8c4e_4d57_9f3a_1e2b_7c5d_9a01);

#[derive(Row, Deserialize)]
struct Letter {
    letter_id: String,
    received_at: u32,
    acknowledged_at: Option<u32>,
    journey: String,
    stage: String,
    touchpoint: String,
}

/// The case id of a letter: the same for every update of it.
pub fn case_id(journey: &str, stage: &str, touchpoint: &str, letter_id: &str) -> Uuid {
    Uuid::new_v5(&LETTERS, format!("{journey}\u{1f}{stage}\u{1f}{touchpoint}\u{1f}{letter_id}").as_bytes())
}

/// Opens the cases of letters acknowledged after their term, or not at all
/// by `now` when it has ended;
/// returns how many it opened this round.
pub async fn open_late(
    storage: &Storage,
    catalog: &Catalog,
    deadlines: &Deadlines,
    now: u32,
) -> Result<usize, StorageError> {
    let letters: Vec<Letter> = storage
        .client()
        .query(&format!(
            "SELECT ?fields FROM {} FINAL WHERE received_at >= toDateTime(?) AND journey != '' AND stage != ''",
            storage.everywhere("correspondence")
        ))
        .bind(now.saturating_sub(WINDOW))
        .fetch_all()
        .await?;
    let mut cases = Vec::new();
    for letter in &letters {
        let Some(journey) = catalog.journey(&letter.journey) else { continue };
        let Some(stage) = journey.stages.iter().find(|s| s.id == letter.stage) else { continue };
        let received = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(letter.received_at));
        let due =
            unix(deadlines.calendar.deadline(received, journey.cases.letter_acknowledge_within, deadlines.offset));
        let late = match letter.acknowledged_at {
            Some(at) => at > due,
            None => now >= due,
        };
        if !late {
            continue;
        }
        let event_id = case_id(&letter.journey, &letter.stage, &letter.touchpoint, &letter.letter_id);
        let opening = Opening {
            event_id,
            at: due,
            journey,
            stage,
            touchpoint: &letter.touchpoint,
            reason: Reason::LateAcknowledgement,
        };
        cases.push(deadlines.case(opening));
    }
    let new = new_cases(storage, cases).await?;
    if !new.is_empty() {
        let mut insert = storage.client().insert::<CaseRow>("cases").await?;
        for case in &new {
            insert.write(case).await?;
        }
        insert.end().await?;
    }
    Ok(new.len())
}

/// Those of `cases` not stored yet.
async fn new_cases(storage: &Storage, cases: Vec<CaseRow>) -> Result<Vec<CaseRow>, StorageError> {
    if cases.is_empty() {
        return Ok(cases);
    }
    let ids: Vec<String> = cases.iter().map(|c| c.event_id.to_string()).collect();
    let known: Vec<String> = storage
        .client()
        .query("SELECT toString(event_id) FROM cases WHERE event_id IN (SELECT toUUID(arrayJoin(?)))")
        .bind(&ids)
        .fetch_all()
        .await?;
    Ok(cases.into_iter().filter(|c| !known.contains(&c.event_id.to_string())).collect())
}
