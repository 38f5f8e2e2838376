//! What clients send, and how it becomes a row: every field checked against
//! the journeys, the register and the site's permissions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use uuid::Uuid;

use crate::config::SiteConfig;
use crate::error::ApiError;
use crate::journeys::Catalog;
use crate::journeys::model::{Emotion, Journey, Segment, Stage, Touchpoint};
use crate::storage::rows::{CorrectionRow, FeedbackRow, TimingRow};

/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Most events in one timings request.
pub const MAX_TIMINGS_PER_REQUEST: usize = 50;
/// Longest duration accepted: a stage can take months, not years.
pub const MAX_DURATION_MS: u64 = 366 * 24 * 3600 * 1000;
/// How far back a client's `occurred_at` may lie (an offline phone retrying later).
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How far ahead of our clock a client's clock may run.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// Rating scales and their ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Satisfaction, 1–5.
    Csat,
    /// Likelihood to recommend, 0–10.
    Nps,
    /// Effort ("it was easy"), 1–7, higher is easier.
    Ces,
    /// 0 = thumbs down, 1 = thumbs up.
    Thumbs,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Csat => "csat",
            Scale::Nps => "nps",
            Scale::Ces => "ces",
            Scale::Thumbs => "thumbs",
        }
    }

    pub fn range(self) -> (u8, u8) {
        match self {
            Scale::Csat => (1, 5),
            Scale::Nps => (0, 10),
            Scale::Ces => (1, 7),
            Scale::Thumbs => (0, 1),
        }
    }

    /// The `Enum8` code of the `scale` column.
    pub fn code(self) -> i8 {
        match self {
            Scale::Csat => 1,
            Scale::Nps => 2,
            Scale::Ces => 3,
            Scale::Thumbs => 4,
        }
    }

    /// The score on 0–100, as migration 0006's rollup computes it.
    pub fn normalised(self, score: u8) -> f64 {
        let s = f64::from(score);
        match self {
            Scale::Csat => (s - 1.0) * 25.0,
            Scale::Nps => s * 10.0,
            Scale::Ces => (s - 1.0) * 100.0 / 6.0,
            Scale::Thumbs => s * 100.0,
        }
    }

    pub fn from_code(code: i8) -> Option<Scale> {
        [Scale::Csat, Scale::Nps, Scale::Ces, Scale::Thumbs].into_iter().find(|s| s.code() == code)
    }

    /// The emotion a score expresses when the client did not say.
    pub fn emotion(self, score: u8) -> Emotion {
        let (negative_below, positive_from) = match self {
            Scale::Csat => (3, 4),
            Scale::Nps => (7, 9),
            Scale::Ces => (4, 5),
            Scale::Thumbs => (1, 1),
        };
        if score < negative_below {
            Emotion::Negative
        } else if score >= positive_from {
            Emotion::Positive
        } else {
            Emotion::Neutral
        }
    }

    pub fn check(self, score: u8, field: &str) -> Result<u8, ApiError> {
        let (lo, hi) = self.range();
        if (lo..=hi).contains(&score) {
            Ok(score)
        } else {
            Err(ApiError::invalid(field, format!("a {self:?} score is {lo}–{hi}, not {score}").to_lowercase()))
        }
    }
}

pub fn emotion_code(emotion: Emotion) -> i8 {
    match emotion {
        Emotion::Negative => -1,
        Emotion::Neutral => 0,
        Emotion::Positive => 1,
    }
}

pub fn segment_code(segment: Option<Segment>) -> i8 {
    match segment {
        None => 0,
        Some(Segment::Individual) => 1,
        Some(Segment::LegalEntity) => 2,
        Some(Segment::SoleProprietor) => 3,
        Some(Segment::Internal) => 4,
    }
}

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
    pub emotion: Option<Emotion>,
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
}

/// Seconds since the epoch, as the `DateTime` columns store them.
pub fn unix(t: SystemTime) -> u32 {
    u32::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).unwrap_or(u32::MAX)
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
    fn field(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn place(&self, site: &str, journey: &str, stage: &str, touchpoint: &str) -> Result<Place<'a>, ApiError> {
        let journey = self
            .catalog
            .journey(journey)
            .ok_or_else(|| ApiError::invalid(self.field("journey"), format!("unknown journey {journey:?}")))?;
        if !self.site.journeys.iter().any(|j| j == &journey.id) {
            return Err(ApiError::invalid(
                self.field("journey"),
                format!("site {site:?} may not post for journey {:?}", journey.id),
            ));
        }
        let stage = journey.stages.iter().find(|s| s.id == stage).ok_or_else(|| {
            ApiError::invalid(self.field("stage"), format!("journey {:?} has no stage {stage:?}", journey.id))
        })?;
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
        let field = self.field("occurred_at");
        let t = humantime::parse_rfc3339_weak(text)
            .map_err(|e| ApiError::invalid(&field, format!("{text:?} is not an RFC 3339 time: {e}")))?;
        if t + MAX_AGE < self.now || t > self.now + MAX_SKEW {
            return Err(ApiError::invalid(
                field,
                "must lie within the last 7 days (and not ahead of the server's clock)",
            ));
        }
        Ok(unix(t))
    }

    pub fn text(&self, name: &str, value: Option<String>, max_chars: usize) -> Result<String, ApiError> {
        let value = value.unwrap_or_default();
        if value.chars().count() > max_chars {
            return Err(ApiError::invalid(self.field(name), format!("at most {max_chars} characters")));
        }
        Ok(value)
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

    pub fn feedback(&self, input: FeedbackInput) -> Result<FeedbackRow, ApiError> {
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
        let rating = Rating {
            event_id: input.event_id,
            occurred_at: self.occurred_at(input.occurred_at.as_deref())?,
            received_at: unix(self.now),
            journey: &place.journey.id,
            stage: &place.stage.id,
            touchpoint: place.touchpoint,
            scale: input.scale,
            score,
        };
        Ok(FeedbackRow {
            site: input.site,
            segment: segment_code(input.segment),
            emotion: emotion_code(input.emotion.unwrap_or_else(|| input.scale.emotion(score))),
            comment,
            tags: input.tags,
            reported_duration_ms: reported,
            locale: self.text("locale", input.locale, 35)?,
            session_id: self.text("session_id", input.session_id, 128)?,
            page_path: self.page_path(input.page_path)?,
            ..rating.row()
        })
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
            channel: channel_name(place.touchpoint),
            segment: segment_code(input.segment),
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

/// What every rating has, whichever way it came (widget, letter, phone).
pub struct Rating<'a> {
    pub event_id: Uuid,
    pub occurred_at: u32,
    pub received_at: u32,
    pub journey: &'a str,
    pub stage: &'a str,
    pub touchpoint: &'a Touchpoint,
    pub scale: Scale,
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
            touchpoint: self.touchpoint.id.clone(),
            channel: channel_name(self.touchpoint),
            segment: segment_code(None),
            scale: self.scale.code(),
            score: self.score,
            emotion: emotion_code(self.scale.emotion(self.score)),
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

/// The channel's name as the register writes it (`in_person`).
pub fn channel_name(touchpoint: &Touchpoint) -> String {
    serde_json::to_value(touchpoint.channel).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotion_follows_the_score_on_every_scale() {
        assert_eq!(Scale::Csat.emotion(2), Emotion::Negative);
        assert_eq!(Scale::Csat.emotion(3), Emotion::Neutral);
        assert_eq!(Scale::Csat.emotion(4), Emotion::Positive);
        assert_eq!(Scale::Nps.emotion(6), Emotion::Negative);
        assert_eq!(Scale::Nps.emotion(8), Emotion::Neutral);
        assert_eq!(Scale::Nps.emotion(9), Emotion::Positive);
        assert_eq!(Scale::Ces.emotion(3), Emotion::Negative);
        assert_eq!(Scale::Ces.emotion(4), Emotion::Neutral);
        assert_eq!(Scale::Thumbs.emotion(0), Emotion::Negative);
        assert_eq!(Scale::Thumbs.emotion(1), Emotion::Positive);
    }

    #[test]
    fn scores_outside_the_scale_are_refused() {
        assert!(Scale::Csat.check(0, "score").is_err());
        assert!(Scale::Nps.check(10, "score").is_ok());
        assert!(Scale::Ces.check(8, "score").is_err());
        assert!(Scale::Thumbs.check(2, "score").is_err());
    }
}
