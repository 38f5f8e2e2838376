//! How the ministry handles cases, per stage of a journey: what the lab
//! reads beside the scores (issue 13 item 6). Satisfaction with the handling
//! comes with the client's follow link, not built yet.

use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::desk::{Desk, internal};
use super::status::State as CaseState;
use crate::accounts::auth::{self, Admits};
use crate::domain::time::unix;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::journeys::Catalog;
use crate::storage::rows::CaseRow;

/// The report's routes, for analysts.
pub fn router(desk: Desk, catalog: std::sync::Arc<Catalog>, admits: Admits) -> OpenApiRouter {
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
    stage: String,
    opened: u64,
    acknowledged_in_time: u64,
    answered_in_time: u64,
    /// Open now, and past a deadline.
    overdue: u64,
    /// Median hours from opening to the acknowledgement, of those acknowledged.
    median_hours_to_acknowledge: Option<f64>,
    /// Median hours from opening to the answer, of those answered.
    median_hours_to_answer: Option<f64>,
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
    State((desk, catalog)): State<(Desk, std::sync::Arc<Catalog>)>,
    Path(id): Path<String>,
    Query(query): Query<Period>,
) -> Result<Response, ApiError> {
    let journey =
        catalog.journey(&id).ok_or_else(|| ApiError::NotFound { what: "journey", field: "id", id: id.clone() })?;
    let days = query.period.unwrap_or(30);
    if ![7, 30, 90].contains(&days) {
        return Err(ApiError::invalid("period", "7, 30 or 90 days"));
    }
    let now = unix((desk.clock)());
    let cases = desk.book.opened(&journey.id, now.saturating_sub(days * 24 * 3600)).await.map_err(internal)?;
    let ids: Vec<_> = cases.iter().map(|c| c.event_id).collect();
    let logs = desk.book.logs(&ids).await.map_err(internal)?;
    let mut stages: Vec<(StageCases, Vec<f64>, Vec<f64>)> = journey
        .stages
        .iter()
        .map(|s| (StageCases { stage: s.id.clone(), ..StageCases::default() }, Vec::new(), Vec::new()))
        .collect();
    for case in &cases {
        let Some(slot) = stages.iter_mut().find(|(s, ..)| s.stage == case.stage) else { continue };
        let state = CaseState::replay(logs.get(&case.event_id).into_iter().flatten());
        count(slot, case, &state, now);
    }
    let stages = stages
        .into_iter()
        .map(|(mut s, mut ack, mut answer)| {
            s.median_hours_to_acknowledge = median(&mut ack);
            s.median_hours_to_answer = median(&mut answer);
            s
        })
        .collect();
    Ok(axum::Json(CaseReport { journey: journey.id.clone(), period_days: days, stages }).into_response())
}

fn count((stage, ack, answer): &mut (StageCases, Vec<f64>, Vec<f64>), case: &CaseRow, state: &CaseState, now: u32) {
    let hours = |at: u32| f64::from(at.saturating_sub(case.opened_at)) / 3600.0;
    stage.opened += 1;
    if let Some(at) = state.acknowledged_at {
        stage.acknowledged_in_time += u64::from(at <= case.acknowledge_by);
        ack.push(hours(at));
    }
    if let Some(at) = state.answered_at {
        stage.answered_in_time += u64::from(at <= case.answer_by);
        answer.push(hours(at));
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
