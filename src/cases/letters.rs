//! A client's letter not acknowledged in time (order 3.2.5) opens a case: a
//! round reads the letters received in the last 30 days and opens one for
//! each whose term (the journey's `letter_acknowledge_within` working days)
//! ended before it was acknowledged, or has ended and it is not yet. The case's id comes
//! from the letter's identity under a key (`LetterCases`) and it opens at the end of that term, so every
//! round writes the same row and a restart or a second round adds nothing.

use std::time::{Duration, SystemTime};

use clickhouse::Row;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde::Deserialize;
use sha2::Sha256;
use uuid::Uuid;

use super::Reason;
use super::open::{Deadlines, Opening};
use crate::domain::time::unix;
use crate::journeys::Catalog;
use crate::storage::rows::CaseRow;
use crate::storage::{Storage, StorageError};

/// How far back a round looks.
const WINDOW: u32 = 30 * 24 * 3600;

/// The namespace of the case ids letters had before they were keyed: still
/// looked up, so a letter whose case opened then does not open another.
const LEGACY: Uuid = Uuid::from_u128(0x6b1f_03a2_8c4e_4d57_9f3a_1e2b_7c5d_9a01);

/// Makes the case ids of late letters: an HMAC of the letter's identity under
/// a key derived from the service's link key. Letter numbers are printed on
/// letters, so an id computed from them alone (a UUID v5) could be computed
/// by anyone; this one only by who holds the key.
#[derive(Clone)]
pub struct LetterCases {
    keyed: Hmac<Sha256>,
}

impl LetterCases {
    /// `secret` is `email.secret` (kept in the database when the config sets
    /// none, `storage::secrets`). Unset, a random key: ids then change at
    /// restart, and a late letter could open a second case.
    pub fn new(secret: Option<&SecretString>) -> LetterCases {
        LetterCases { keyed: crate::signed::keyed_for(secret, "touchpoint letter case v1") }
    }

    /// The case id of a letter: the same for every update of it.
    pub fn case_id(&self, journey: &str, stage: &str, touchpoint: &str, letter_id: &str) -> Uuid {
        let mut mac = self.keyed.clone();
        mac.update(identity(journey, stage, touchpoint, letter_id).as_bytes());
        let digest: [u8; 16] = mac.finalize().into_bytes()[..16].try_into().expect("16 bytes");
        uuid::Builder::from_custom_bytes(digest).into_uuid()
    }
}

fn identity(journey: &str, stage: &str, touchpoint: &str, letter_id: &str) -> String {
    format!("{journey}\u{1f}{stage}\u{1f}{touchpoint}\u{1f}{letter_id}")
}

/// The id a letter's case had before ids were keyed.
fn legacy_case_id(journey: &str, stage: &str, touchpoint: &str, letter_id: &str) -> Uuid {
    Uuid::new_v5(&LEGACY, identity(journey, stage, touchpoint, letter_id).as_bytes())
}

#[derive(Row, Deserialize)]
struct Letter {
    letter_id: String,
    received_at: u32,
    acknowledged_at: Option<u32>,
    journey: String,
    stage: String,
    touchpoint: String,
}

/// Opens the cases of letters acknowledged after their term, or not at all
/// by `now` when it has ended;
/// returns how many it opened this round.
pub async fn open_late(
    storage: &Storage,
    catalog: &Catalog,
    (deadlines, ids): (&Deadlines, &LetterCases),
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
        let event_id = ids.case_id(&letter.journey, &letter.stage, &letter.touchpoint, &letter.letter_id);
        let legacy = legacy_case_id(&letter.journey, &letter.stage, &letter.touchpoint, &letter.letter_id);
        let opening = Opening {
            event_id,
            at: due,
            journey,
            stage,
            touchpoint: &letter.touchpoint,
            reason: Reason::LateAcknowledgement,
        };
        cases.push((deadlines.case(opening), legacy));
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

/// Those of `cases` not stored yet, under their id or their legacy id.
async fn new_cases(storage: &Storage, cases: Vec<(CaseRow, Uuid)>) -> Result<Vec<CaseRow>, StorageError> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = cases.iter().flat_map(|(c, legacy)| [c.event_id.to_string(), legacy.to_string()]).collect();
    let known: Vec<String> = storage
        .client()
        .query("SELECT toString(event_id) FROM cases WHERE event_id IN (SELECT toUUID(arrayJoin(?)))")
        .bind(&ids)
        .fetch_all()
        .await?;
    let known = |id: &Uuid| known.contains(&id.to_string());
    Ok(cases.into_iter().filter(|(c, legacy)| !known(&c.event_id) && !known(legacy)).map(|(c, _)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letters_case_id_needs_the_key_and_is_stable_under_it() {
        let key = |k: &str| LetterCases::new(Some(&SecretString::from(k.repeat(32))));
        let id = |cases: &LetterCases| cases.case_id("j", "s", "email", "28-01/1234");
        assert_eq!(id(&key("a")), id(&key("a")), "every round, every instance");
        assert_ne!(id(&key("a")), id(&key("b")), "another key, another id");
        assert_ne!(id(&key("a")), legacy_case_id("j", "s", "email", "28-01/1234"), "not the public UUID v5");
        assert_ne!(id(&key("a")), key("a").case_id("j", "s", "email", "28-01/1235"));
    }
}
