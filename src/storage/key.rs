//! What identifies an event across retries, and what tells two states of an
//! updatable event apart. Both are computed from the stored row, so that the
//! memory rebuilt at start from the spool and from ClickHouse agrees with the
//! one the handlers filled.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::rows::{CorrectionRow, Event, FeedbackRow, LetterRow};
use crate::domain::{EMAIL_SITE, EventKind, Scale};

/// An event id within its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: EventKind,
    pub id: Uuid,
}

/// The last stored state of an event id: its version column (seconds) and,
/// for updatable kinds, a digest of what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub at: u32,
    pub fingerprint: u64,
}

/// The key and state of the row that carries an event's id; `None` for rows
/// that only travel with another (a call's rating or answers, a rollup
/// correction).
pub fn identify(event: &Event) -> Option<(Key, Version)> {
    let (kind, id, at, fingerprint) = match event {
        Event::Feedback(row) if row.site == EMAIL_SITE => {
            (EventKind::EmailRating, row.event_id, row.received_at, email_fingerprint(row.score, &row.comment))
        }
        Event::Feedback(row) if row.site.is_empty() => return None,
        Event::Feedback(row) => (EventKind::Rating, row.event_id, row.received_at, 0),
        Event::Timing(row) => (EventKind::Timing, row.event_id, row.received_at, 0),
        Event::Call(row) => (EventKind::Call, row.event_id, row.received_at, 0),
        Event::Letter(row) => (EventKind::Letter, row.event_id, row.updated_at, letter_fingerprint(row)),
        Event::Answers(row) if row.site.is_empty() => return None,
        Event::Answers(row) => (EventKind::Answers, row.event_id, row.received_at, 0),
        Event::Offer(row) => (EventKind::Offer, row.event_id, row.received_at, 0),
        Event::Correction(_) | Event::Case(_) | Event::Touch(_) | Event::Proof(_) => return None,
    };
    Some((Key { kind, id }, Version { at, fingerprint }))
}

/// The score in clear in the low byte (a later click's correction needs it),
/// and a digest of the comment above it.
pub fn email_fingerprint(score: u8, comment: &str) -> u64 {
    let digest = Sha256::digest(comment.as_bytes());
    let high = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default());
    (high << 8) | u64::from(score)
}

/// Everything a letter's state says but the time it was posted.
fn letter_fingerprint(row: &LetterRow) -> u64 {
    let mut hash = Sha256::new();
    for part in [&row.letter_id, &row.journey, &row.stage, &row.touchpoint, &row.process] {
        hash.update((part.len() as u32).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.update(row.received_at.to_le_bytes());
    for t in [row.acknowledged_at, row.answered_at] {
        hash.update(t.map_or([0xff; 5], |t| {
            let b = t.to_le_bytes();
            [1, b[0], b[1], b[2], b[3]]
        }));
    }
    hash.update([row.segment as u8]);
    u64::from_le_bytes(hash.finalize()[..8].try_into().unwrap_or_default())
}

/// Makes `event` the next state after `previous`: its version column moves
/// past the previous one (ReplacingMergeTree keeps the highest, and a spool
/// replay tells writes apart by id and version), and a replaced e-mail rating
/// is taken back out of the daily rollup.
pub fn supersede(event: &mut Event, previous: Version) -> Option<Event> {
    let next = previous.at.saturating_add(1);
    match event {
        Event::Letter(row) => {
            row.updated_at = row.updated_at.max(next);
            None
        }
        Event::Feedback(row) if row.site == EMAIL_SITE => {
            row.received_at = row.received_at.max(next);
            let replaced = replaced_rating(row, (previous.fingerprint & 0xff) as u8)?;
            correction(&replaced, row).map(Event::Correction)
        }
        _ => None,
    }
}

/// The e-mail rating `row` replaces: every link of a letter shares all but
/// the score (and so the emotion it expresses).
fn replaced_rating(row: &FeedbackRow, score: u8) -> Option<FeedbackRow> {
    let scale = Scale::from_code(row.scale)?;
    Some(FeedbackRow { score, emotion: scale.emotion(score).code(), comment: String::new(), ..row.clone() })
}

/// Takes what `row` added to the daily rollup back out, on behalf of
/// `replacing`, the rating that takes its place.
pub fn correction(row: &FeedbackRow, replacing: &FeedbackRow) -> Option<CorrectionRow> {
    let norm = Scale::from_code(row.scale)?.normalised(row.score);
    let sign = -1;
    let f = sign as f64;
    Some(CorrectionRow {
        event_id: replacing.event_id,
        received_at: replacing.received_at,
        day: u16::try_from(row.occurred_at / 86_400).ok()?,
        journey: row.journey.clone(),
        stage: row.stage.clone(),
        touchpoint: row.touchpoint.clone(),
        channel: row.channel.clone(),
        segment: row.segment,
        n: sign,
        sum: f * norm,
        sumsq: f * norm * norm,
        positive: sign * i64::from(row.emotion == 1),
        negative: sign * i64::from(row.emotion == -1),
    })
}
