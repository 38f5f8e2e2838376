//! The row of a case an event opens, with its unit and deadlines.

use std::time::{Duration, SystemTime};

use time::UtcOffset;
use uuid::Uuid;

use super::Reason;
use crate::domain::calendar::Calendar;
use crate::domain::time::unix;
use crate::journeys::model::{Journey, Stage};
use crate::storage::rows::CaseRow;

/// Where a case's deadlines come from: the production calendar and the
/// ministry's offset from UTC (`cases.utc_offset`).
#[derive(Debug, Clone)]
pub struct Deadlines {
    pub calendar: Calendar,
    pub offset: UtcOffset,
}

/// What an event that opens a case says about where it happened.
pub struct Opening<'a> {
    pub event_id: Uuid,
    /// When the event arrived.
    pub at: u32,
    pub journey: &'a Journey,
    pub stage: &'a Stage,
    pub touchpoint: &'a str,
    pub reason: Reason,
}

impl Deadlines {
    /// The case of an event with no journey and stage (a call logged without
    /// them): the default rules' deadlines, worked by `unit`.
    pub fn case_without_place(&self, event_id: Uuid, at: u32, touchpoint: &str, unit: &str, reason: Reason) -> CaseRow {
        let rules = crate::cases::CaseRules::default();
        let from = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(at));
        let due = |days| unix(self.calendar.deadline(from, days, self.offset));
        CaseRow {
            event_id,
            opened_at: at,
            journey: String::new(),
            stage: String::new(),
            touchpoint: touchpoint.to_string(),
            unit: unit.to_string(),
            reason: reason_name(reason),
            acknowledge_by: due(rules.acknowledge_within),
            answer_by: due(rules.answer_within),
        }
    }

    pub fn case(&self, opening: Opening<'_>) -> CaseRow {
        let rules = &opening.journey.cases;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(opening.at));
        let due = |days| unix(self.calendar.deadline(at, days, self.offset));
        CaseRow {
            event_id: opening.event_id,
            opened_at: opening.at,
            journey: opening.journey.id.clone(),
            stage: opening.stage.id.clone(),
            touchpoint: opening.touchpoint.to_string(),
            unit: opening.stage.unit.clone().or_else(|| rules.unit.clone()).unwrap_or_default(),
            reason: reason_name(opening.reason),
            acknowledge_by: due(rules.acknowledge_within),
            answer_by: due(rules.answer_within),
        }
    }
}

/// A reason as the `cases` table stores it.
fn reason_name(reason: Reason) -> String {
    match reason {
        Reason::LowScore => "low_score".to_string(),
        Reason::Transfers => "transfers".to_string(),
        Reason::Tag(tag) => format!("tag:{tag}"),
        Reason::LateAcknowledgement => "late_acknowledgement".to_string(),
    }
}
