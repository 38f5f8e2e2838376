//! How the ministry handles cases, per stage of a journey: what the lab
//! reads beside the scores (issue 13 item 6), in the API and on the journey
//! map, with the clients' satisfaction with the handling (their rating of the
//! answer, from the follow page).

use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::desk::Desk;
use super::status::State as CaseState;
use crate::accounts::auth::{self, Admits};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::storage::rows::CaseRow;

/// The report's routes, for analysts.
pub fn router(desk: Desk, catalog: crate::journeys::Live, admits: Admits) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(report))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .with_state((desk, catalog))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Cases opened in the last 7, 30 (default) or 90 days.
    period: Option<u32>,
}

/// One stage's cases.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct StageCases {
    pub stage: String,
    pub opened: u64,
    pub acknowledged_in_time: u64,
    pub answered_in_time: u64,
    /// Open now, and past a deadline.
    pub overdue: u64,
    /// `overdue` of `opened`, 0–1.
    pub share_overdue: Option<f64>,
    /// Median hours from opening to the acknowledgement, of those acknowledged.
    pub median_hours_to_acknowledge: Option<f64>,
    /// Median hours the deadlines allowed for it (working days make it vary).
    pub median_hours_allowed_to_acknowledge: Option<f64>,
    /// Median hours from opening to the answer, of those answered.
    pub median_hours_to_answer: Option<f64>,
    pub median_hours_allowed_to_answer: Option<f64>,
    /// Clients who rated the answer on their follow page.
    pub handling_ratings: u64,
    /// Their mean score, csat 1–5.
    pub handling_satisfaction: Option<f64>,
}

/// The hours each case took and was allowed, per step.
#[derive(Default)]
struct Hours {
    ack: Vec<f64>,
    ack_allowed: Vec<f64>,
    answer: Vec<f64>,
    answer_allowed: Vec<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseReport {
    journey: String,
    period_days: u32,
    /// In the journey's order, every stage listed.
    stages: Vec<StageCases>,
}

/// `GET /api/v1/journeys/{id}/cases`
#[utoipa::path(get, path = "/api/v1/journeys/{id}/cases", tag = "dashboards", security(("api_token" = [])),
    params(("id" = String, Path, description = "Journey id"), Period),
    responses(
        (status = 200, body = CaseReport),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not an analyst", body = ErrorBody),
        (status = 404, description = "No such journey", body = ErrorBody),
        (status = 422, description = "A period other than 7, 30 or 90", body = ErrorBody),
    ))]
async fn report(
    State((desk, catalog)): State<(Desk, crate::journeys::Live)>,
    Path(id): Path<String>,
    Query(query): Query<Period>,
) -> Result<Response, ApiError> {
    let catalog = catalog.get();
    let journey = catalog.journey_or_404(&id)?;
    let days = query.period.unwrap_or(30);
    if ![7, 30, 90].contains(&days) {
        return Err(ApiError::invalid("period", "7, 30 or 90 days"));
    }
    let now = desk.now();
    let from = now.saturating_sub(days * 24 * 3600);
    let stages = per_stage(desk.book(), journey, from, now.saturating_add(1), now).await.map_err(ApiError::from)?;
    Ok(axum::Json(CaseReport { journey: journey.id.clone(), period_days: days, stages }).into_response())
}

/// Every stage of `journey`, in order, with its cases opened in [from, to) as they stand at `now`.
pub async fn per_stage(
    book: &super::CaseBook,
    journey: &crate::journeys::model::Journey,
    from: u32,
    to: u32,
    now: u32,
) -> Result<Vec<StageCases>, crate::storage::StorageError> {
    let cases = book.opened(&journey.id, from, to).await?;
    let ids: Vec<_> = cases.iter().map(|c| c.event_id).collect();
    let logs = book.logs(&ids).await?;
    let handling = book.handling(&journey.id, from, to).await?;
    let mut stages: Vec<(StageCases, Hours)> = journey
        .stages
        .iter()
        .map(|s| (StageCases { stage: s.id.clone(), ..StageCases::default() }, Hours::default()))
        .collect();
    for case in &cases {
        let Some(slot) = stages.iter_mut().find(|(s, _)| s.stage == case.stage) else { continue };
        let state = CaseState::replay(logs.get(&case.event_id).into_iter().flatten());
        count(slot, case, &state, now);
    }
    Ok(stages
        .into_iter()
        .map(|(mut s, mut h)| {
            s.share_overdue = (s.opened > 0).then(|| s.overdue as f64 / s.opened as f64);
            s.median_hours_to_acknowledge = median(&mut h.ack);
            s.median_hours_allowed_to_acknowledge = median(&mut h.ack_allowed);
            s.median_hours_to_answer = median(&mut h.answer);
            s.median_hours_allowed_to_answer = median(&mut h.answer_allowed);
            if let Some(rated) = handling.iter().find(|r| r.stage == s.stage) {
                s.handling_ratings = rated.n;
                s.handling_satisfaction = (rated.n > 0).then(|| rated.total as f64 / rated.n as f64);
            }
            s
        })
        .collect())
}

fn count((stage, hours): &mut (StageCases, Hours), case: &CaseRow, state: &CaseState, now: u32) {
    let since = |at: u32| f64::from(at.saturating_sub(case.opened_at)) / 3600.0;
    stage.opened += 1;
    hours.ack_allowed.push(since(case.acknowledge_by));
    hours.answer_allowed.push(since(case.answer_by));
    if let Some(at) = state.acknowledged_at {
        stage.acknowledged_in_time += u64::from(at <= case.acknowledge_by);
        hours.ack.push(since(at));
    }
    if let Some(at) = state.answered_at {
        stage.answered_in_time += u64::from(at <= case.answer_by);
        hours.answer.push(since(at));
    }
    stage.overdue += u64::from(state.overdue(case.acknowledge_by, case.answer_by, now));
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}
