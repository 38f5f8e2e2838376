//! `GET /api/v1/journeys/{id}/stage-durations`: per stage, how many clients'
//! cases reached it, how long they took there against the stage's target and
//! legal deadline, and how many are still there and for how long (the funnel).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::Dossiers;
use super::stages::journey_build;
use crate::domain::time::unix;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::journeys::model::{Journey, Metric, Stage, Text};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Cases that entered a stage in the last this many days (1–3660; default 365).
    days: Option<u32>,
}

/// One stage of the funnel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StageDurations {
    pub stage: String,
    #[schema(value_type = Object)]
    pub name: Text,
    /// Cases with a contact at this stage.
    pub reached: u64,
    /// Of those, cases with a contact at a later stage since.
    pub moved_on: u64,
    /// Of those, cases with none yet: where they stall.
    pub still_there: u64,
    /// Seconds from a case's first contact here to its first at a later
    /// stage, of those that moved on: the middle value (of an even count, the
    /// upper middle one) and the 90th percentile, exact.
    pub median_seconds: Option<u64>,
    pub p90_seconds: Option<u64>,
    /// The stage's time-spent target (journey file), seconds.
    pub target_seconds: Option<u64>,
    /// Working days allowed by law or regulation (journey file).
    pub legal_deadline_days: Option<u16>,
    /// Cases that moved on after the deadline's end, or are still here past it.
    pub past_deadline: u64,
    /// `past_deadline` of `reached`, 0–1; none without a deadline.
    pub past_deadline_share: Option<f64>,
    /// Median seconds the cases still here have been here.
    pub still_there_median_seconds: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JourneyDurations {
    pub journey: String,
    pub days: u32,
    /// When the figures were computed (RFC 3339); none before the first
    /// computation (`case_refs.refresh_interval`).
    pub computed_at: Option<String>,
    /// In the journey's order, every stage listed.
    pub stages: Vec<StageDurations>,
}

#[derive(Row, Deserialize)]
struct Figures {
    stage: u8,
    reached: u64,
    moved: u64,
    /// Median and 90th percentile of `spent` of the cases that moved on.
    spent: Vec<u64>,
    past: u64,
    waiting: u64,
}

pub const FIGURES: &str = "SELECT stage, count() AS reached, countIf(left_at > 0) AS moved, \
      arrayMap(q -> toUInt64(q), quantilesExactIf(0.5, 0.9)(spent, left_at > 0)) AS spent, \
      countIf(deadline_at > 0 AND (left_at > deadline_at OR (left_at = 0 AND toUInt32(deadline_at) < ?))) AS past, \
      toUInt64(quantileExactIf(0.5)(? - toUInt32(entered_at), left_at = 0)) AS waiting \
    FROM case_stage_times \
    WHERE build = ? AND journey = ? AND entered_at >= toDateTime(?) \
    GROUP BY stage";

/// `GET /api/v1/journeys/{id}/stage-durations`
#[utoipa::path(get, path = "/api/v1/journeys/{id}/stage-durations", tag = "dashboards", security(("api_token" = [])),
    params(("id" = String, Path, description = "Journey id"), Window),
    responses(
        (status = 200, body = JourneyDurations),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not an analyst", body = ErrorBody),
        (status = 404, description = "No such journey", body = ErrorBody),
        (status = 422, description = "`days` out of range", body = ErrorBody),
    ))]
pub async fn durations(
    State(state): State<Dossiers>,
    Path(id): Path<String>,
    Query(window): Query<Window>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog.get();
    let journey = catalog.journey_or_404(&id)?;
    let days = window.days.unwrap_or(365);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::invalid("days", "from 1 to 3660"));
    }
    Ok(axum::Json(compute(&state, journey, days).await?).into_response())
}

/// The figures of `journey`'s cases that entered a stage in the last `days`.
pub async fn compute(state: &Dossiers, journey: &Journey, days: u32) -> Result<JourneyDurations, ApiError> {
    let now = unix((state.clock)());
    let build = journey_build(&state.storage, &journey.id).await?;
    let (figures, numbers): (Vec<Figures>, Vec<String>) = match &build {
        None => (Vec::new(), Vec::new()),
        Some(b) => {
            let from = now.saturating_sub(days * 86_400);
            let query = state.storage.client().query(FIGURES).bind(now).bind(now).bind(b.build).bind(b.number);
            let figures = query.bind(from).fetch_all().await.map_err(crate::storage::StorageError::from)?;
            (figures, b.stages.clone())
        }
    };
    // Stage numbers as the build numbered them: the journey file may have
    // changed since.
    let of = |id: &str| numbers.iter().position(|s| s == id).map(|i| i as u8 + 1);
    let stages = journey
        .stages
        .iter()
        .map(|stage| line(stage, of(&stage.id).and_then(|n| figures.iter().find(|f| f.stage == n))))
        .collect();
    let computed_at = build.map(|b| super::rfc3339(b.build));
    Ok(JourneyDurations { journey: journey.id.clone(), days, computed_at, stages })
}

fn line(stage: &Stage, f: Option<&Figures>) -> StageDurations {
    let reached = f.map_or(0, |f| f.reached);
    let moved = f.map_or(0, |f| f.moved);
    let past = f.map_or(0, |f| f.past);
    StageDurations {
        stage: stage.id.clone(),
        name: stage.name.clone(),
        reached,
        moved_on: moved,
        still_there: reached - moved,
        median_seconds: f.filter(|_| moved > 0).and_then(|f| f.spent.first().copied()),
        p90_seconds: f.filter(|_| moved > 0).and_then(|f| f.spent.get(1).copied()),
        target_seconds: stage.metrics.iter().find_map(|m| match m {
            Metric::TimeSpent { target } => target.map(|t| t.as_secs()),
            Metric::Score { .. } => None,
        }),
        legal_deadline_days: stage.legal_deadline_days,
        past_deadline: past,
        past_deadline_share: (stage.legal_deadline_days.is_some() && reached > 0).then(|| past as f64 / reached as f64),
        still_there_median_seconds: f.filter(|_| reached > moved).map(|f| f.waiting),
    }
}
