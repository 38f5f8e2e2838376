//! What clients send, and how it becomes a row: every field checked against
//! the journeys, the register and the site's permissions.

use std::time::SystemTime;

use serde::Deserialize;
use uuid::Uuid;

use crate::config::SiteConfig;
use crate::domain::text::bounded;
use crate::domain::time::{self, CLIENT_MAX_AGE, unix};
use crate::domain::{CaseRef, Scale, Segment};
use crate::error::ApiError;
use crate::journeys::Catalog;
use crate::journeys::model::{Journey, Stage, Touchpoint};
use crate::storage::rows::{FeedbackRow, TimingRow};

/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Most events in one timings request.
pub const MAX_TIMINGS_PER_REQUEST: usize = 50;
/// Longest duration accepted: a stage can take months, not years.
pub const MAX_DURATION_MS: u64 = 366 * 24 * 3600 * 1000;

/// What was timed: time on a page, a task, a wait, staff handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Dwell,
    Task,
    Wait,
    Handling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Measured,
    SelfReported,
}

/// `POST /api/v1/feedback`: one rating at a touchpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    /// Made by the client; a retry with the same id is stored once.
    pub event_id: Uuid,
    /// A configured site key.
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub scale: Scale,
    pub score: u8,
    #[serde(default)]
    pub emotion: Option<crate::domain::Emotion>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub segment: Option<Segment>,
    /// The client's answer to "how long did it take?".
    #[serde(default)]
    pub reported_duration_ms: Option<u64>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub page_path: Option<String>,
    /// When the contact happened (RFC 3339); default: now. Send the same value
    /// on a retry so the retry collapses with the first attempt.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// The ministry's reference of the client's case (an application number
    /// such as `Л-2026/117`, at most 64 characters): links this rating to the
    /// case's other contacts. Only its keyed hash is stored.
    #[serde(default)]
    pub case_ref: Option<String>,
}

/// `POST /api/v1/timings`: time spent at a touchpoint and stage.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimingInput {
    pub event_id: Uuid,
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub duration_ms: u64,
    pub measure: Measure,
    pub source: Source,
    #[serde(default)]
    pub segment: Option<Segment>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub page_path: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// As for a rating: the client's case reference, kept only as its keyed hash.
    #[serde(default)]
    pub case_ref: Option<String>,
}

/// Checks an event's claim to a site, journey, stage and touchpoint.
pub struct Checker<'a> {
    pub catalog: &'a Catalog,
    pub site: &'a SiteConfig,
    pub now: SystemTime,
    /// Prefix of field names, e.g. `[3].` inside a timings array.
    pub prefix: String,
}

pub struct Place<'a> {
    pub journey: &'a Journey,
    pub stage: &'a Stage,
    pub touchpoint: &'a Touchpoint,
}

impl<'a> Checker<'a> {
    /// The field's name as an error names it; allocates only inside an array.
    fn field<'s>(&'s self, name: &'s str) -> std::borrow::Cow<'s, str> {
        if self.prefix.is_empty() { name.into() } else { format!("{}{name}", self.prefix).into() }
    }

    pub fn place(&self, site: &str, journey: &str, stage: &str, touchpoint: &str) -> Result<Place<'a>, ApiError> {
        let journey = find_journey(self.catalog, &self.prefix, journey)?;
        if !self.site.journeys.iter().any(|j| j == &journey.id) {
            return Err(ApiError::invalid(
                self.field("journey"),
                format!("site {site:?} may not post for journey {:?}", journey.id),
            ));
        }
        let stage = find_stage(journey, &self.prefix, stage)?;
        if !stage.touchpoints.iter().any(|t| t == touchpoint) {
            return Err(ApiError::invalid(
                self.field("touchpoint"),
                format!(
                    "touchpoint {touchpoint:?} is not used at stage {:?}; its touchpoints: {}",
                    stage.id,
                    stage.touchpoints.join(", ")
                ),
            ));
        }
        let touchpoint = self.catalog.touchpoint(touchpoint).expect("stage touchpoints are validated at load");
        Ok(Place { journey, stage, touchpoint })
    }

    /// The client's time of the contact, within [now − 7 days, now + 5 min].
    pub fn occurred_at(&self, value: Option<&str>) -> Result<u32, ApiError> {
        let Some(text) = value else { return Ok(unix(self.now)) };
        Ok(time::within(&self.field("occurred_at"), text, self.now, CLIENT_MAX_AGE)?)
    }

    /// The case reference an event carries, if any.
    pub fn case_ref(&self, value: Option<String>) -> Result<Option<CaseRef>, ApiError> {
        Ok(CaseRef::parse(&self.field("case_ref"), value)?)
    }

    pub fn text(&self, name: &str, value: Option<String>, max_chars: usize) -> Result<String, ApiError> {
        Ok(bounded(&self.field(name), value, max_chars)?)
    }

    /// Only the path: a query string or fragment may carry personal data.
    pub fn page_path(&self, value: Option<String>) -> Result<String, ApiError> {
        let value = self.text("page_path", value, 1024)?;
        if !value.is_empty() && !value.starts_with('/') {
            return Err(ApiError::invalid(self.field("page_path"), "a path starts with '/'"));
        }
        Ok(value.split(['?', '#']).next().unwrap_or_default().to_string())
    }

    pub fn duration(&self, name: &str, ms: u64) -> Result<u64, ApiError> {
        if ms > MAX_DURATION_MS {
            return Err(ApiError::invalid(self.field(name), "at most 366 days"));
        }
        Ok(ms)
    }

    /// The row of a rating, and where it was given (for the case it may open).
    pub fn feedback(&self, input: FeedbackInput) -> Result<(FeedbackRow, Place<'a>), ApiError> {
        let place = self.place(&input.site, &input.journey, &input.stage, &input.touchpoint)?;
        let score = input.scale.check(input.score, &self.field("score"))?;
        let comment = self.text("comment", input.comment, MAX_COMMENT_CHARS)?;
        for tag in &input.tags {
            if !place.stage.tags.iter().any(|t| &t.id == tag) {
                let known: Vec<&str> = place.stage.tags.iter().map(|t| t.id.as_str()).collect();
                return Err(ApiError::invalid(
                    self.field("tags"),
                    format!("stage {:?} has no tag {tag:?}; its tags: {}", place.stage.id, known.join(", ")),
                ));
            }
        }
        let reported = input.reported_duration_ms.map(|ms| self.duration("reported_duration_ms", ms)).transpose()?;
        let rating = crate::storage::rows::Rating {
            event_id: input.event_id,
            occurred_at: self.occurred_at(input.occurred_at.as_deref())?,
            received_at: unix(self.now),
            journey: &place.journey.id,
            stage: &place.stage.id,
            touchpoint: &place.touchpoint.id,
            channel: place.touchpoint.channel,
            scale: input.scale,
            score,
        };
        let row = FeedbackRow {
            site: input.site,
            segment: Segment::code(input.segment),
            emotion: input.emotion.unwrap_or_else(|| input.scale.emotion(score)).code(),
            comment,
            tags: input.tags,
            reported_duration_ms: reported,
            locale: self.text("locale", input.locale, 35)?,
            session_id: self.text("session_id", input.session_id, 128)?,
            page_path: self.page_path(input.page_path)?,
            ..rating.row()
        };
        Ok((row, place))
    }

    pub fn timing(&self, input: TimingInput) -> Result<TimingRow, ApiError> {
        let place = self.place(&input.site, &input.journey, &input.stage, &input.touchpoint)?;
        Ok(TimingRow {
            event_id: input.event_id,
            occurred_at: self.occurred_at(input.occurred_at.as_deref())?,
            received_at: unix(self.now),
            site: input.site,
            journey: place.journey.id.clone(),
            stage: place.stage.id.clone(),
            touchpoint: place.touchpoint.id.clone(),
            channel: place.touchpoint.channel.name(),
            segment: Segment::code(input.segment),
            measure: match input.measure {
                Measure::Dwell => 1,
                Measure::Task => 2,
                Measure::Wait => 3,
                Measure::Handling => 4,
            },
            source: match input.source {
                Source::Measured => 1,
                Source::SelfReported => 2,
            },
            duration_ms: self.duration("duration_ms", input.duration_ms)?,
            session_id: self.text("session_id", input.session_id, 128)?,
            page_path: self.page_path(input.page_path)?,
        })
    }
}

/// The journey an event names, refused naming `{prefix}journey`.
pub fn find_journey<'a>(catalog: &'a Catalog, prefix: &str, id: &str) -> Result<&'a Journey, ApiError> {
    catalog.journey(id).ok_or_else(|| ApiError::invalid(format!("{prefix}journey"), format!("unknown journey {id:?}")))
}

/// A stage of `journey`, refused naming `{prefix}stage`.
pub fn find_stage<'a>(journey: &'a Journey, prefix: &str, id: &str) -> Result<&'a Stage, ApiError> {
    journey.stages.iter().find(|s| s.id == id).ok_or_else(|| {
        ApiError::invalid(format!("{prefix}stage"), format!("journey {:?} has no stage {id:?}", journey.id))
    })
}

/// A touchpoint of the register, refused naming `field`.
pub fn find_touchpoint<'a>(catalog: &'a Catalog, field: &str, id: &str) -> Result<&'a Touchpoint, ApiError> {
    catalog.touchpoint(id).ok_or_else(|| ApiError::invalid(field, format!("unknown touchpoint {id:?}")))
}
