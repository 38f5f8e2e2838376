//! The case queue as a JSON API for handlers (and a ministry's CRM with a
//! handler's token): their units' cases by deadline, one case with its log,
//! and changes to it.

use std::time::{Duration, SystemTime};

use axum::extract::{Extension, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::desk::{Ask, Desk};
use super::queue::Context;
use super::status::{Action, Resolution, State as CaseState, Status};
use crate::accounts::auth::{self, Admits, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::storage::rows::CaseRow;

/// The case routes, for handlers only.
pub fn router(desk: Desk, admits: Admits) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(change))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .with_state(desk)
}

/// One case as the queue shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    id: Uuid,
    opened_at: String,
    journey: String,
    stage: String,
    touchpoint: String,
    unit: String,
    /// `low_score`, `transfers` or `tag:<id>`.
    reason: String,
    acknowledge_by: String,
    answer_by: String,
    status: Status,
    /// A deadline passed with its step not done.
    overdue: bool,
    acknowledged_at: Option<String>,
    answered_at: Option<String>,
    closed_at: Option<String>,
    answer: Option<String>,
    resolution: Option<Resolution>,
    /// What the event that opened it said; none when it is no longer stored.
    context: Option<Context>,
}

fn time(unix: u32) -> String {
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(unix))).to_string()
}

fn view(case: CaseRow, state: &CaseState, now: u32, context: Option<Context>) -> CaseView {
    let overdue = state.overdue(case.acknowledge_by, case.answer_by, now);
    CaseView {
        id: case.event_id,
        opened_at: time(case.opened_at),
        journey: case.journey,
        stage: case.stage,
        touchpoint: case.touchpoint,
        unit: case.unit,
        reason: case.reason,
        acknowledge_by: time(case.acknowledge_by),
        answer_by: time(case.answer_by),
        status: state.status(),
        overdue,
        acknowledged_at: state.acknowledged_at.map(time),
        answered_at: state.answered_at.map(time),
        closed_at: state.closed_at.map(time),
        answer: state.answer.clone(),
        resolution: state.resolution,
        context,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    status: Option<Status>,
    stage: Option<String>,
    /// One of the handler's units; default: all of them.
    unit: Option<String>,
    /// Only cases past a deadline.
    #[serde(default)]
    overdue: bool,
    /// Cases per page, 1–500; default 100.
    limit: Option<u32>,
    /// Cases to skip: the next page is `offset + limit`.
    #[serde(default)]
    offset: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseList {
    /// Earliest answer deadline first.
    cases: Vec<CaseView>,
    /// The `offset` of the next page; none after the last.
    next_offset: Option<u32>,
}

/// `GET /api/v1/cases`: the cases of the caller's units.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("api_token" = [])), params(Filter),
    responses(
        (status = 200, body = CaseList),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not a handler, or not a unit of the caller", body = ErrorBody),
        (status = 422, description = "A bad filter; `field` names it", body = ErrorBody),
    ))]
async fn list(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "from 1 to 500"));
    }
    let ask = Ask {
        status: filter.status,
        open_only: false,
        stage: filter.stage,
        unit: filter.unit,
        overdue: filter.overdue,
        // One more tells whether there is a next page.
        limit: limit + 1,
        offset: filter.offset,
    };
    let mut cases = desk.queue(&caller, ask).await?;
    let next_offset = (cases.len() > limit as usize).then(|| filter.offset + limit);
    cases.truncate(limit as usize);
    let mut contexts = desk.contexts(&cases.iter().map(|(c, _)| c).collect::<Vec<_>>()).await?;
    let now = desk.now();
    let views = cases
        .into_iter()
        .map(|(case, state)| {
            let context = take(&mut contexts, case.event_id);
            view(case, &state, now, context)
        })
        .collect();
    Ok(axum::Json(CaseList { cases: views, next_offset }).into_response())
}

fn take(contexts: &mut Vec<(Uuid, Context)>, id: Uuid) -> Option<Context> {
    let at = contexts.iter().position(|(c, _)| *c == id)?;
    Some(contexts.swap_remove(at).1)
}

/// `GET /api/v1/cases/{id}`
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The case's id: the id of the event that opened it")),
    responses(
        (status = 200, body = CaseView),
        (status = 403, description = "Not a handler, or another unit's case", body = ErrorBody),
        (status = 404, description = "No such case", body = ErrorBody),
    ))]
async fn one(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let (case, log) = desk.mine(&caller, id).await?;
    let state = CaseState::replay(&log);
    let context = take(&mut desk.contexts(&[&case]).await?, id);
    Ok(axum::Json(view(case, &state, desk.now(), context)).into_response())
}

/// A change to a case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeInput {
    /// Made by the caller; the same id again is the same change, applied once.
    change_id: Uuid,
    action: Step,
    /// The answer to the client (`answer` only).
    #[serde(default)]
    text: Option<String>,
    /// How the case ended (`close` only).
    #[serde(default)]
    resolution: Option<Resolution>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum Step {
    Acknowledge,
    Start,
    Answer,
    Close,
}

impl ChangeInput {
    fn action(self) -> Result<Action, ApiError> {
        let unexpected = |field: &str| ApiError::invalid(field, format!("not part of {:?}", self.action));
        match self.action {
            Step::Answer if self.resolution.is_some() => Err(unexpected("resolution")),
            Step::Close if self.text.is_some() => Err(unexpected("text")),
            Step::Acknowledge | Step::Start if self.text.is_some() => Err(unexpected("text")),
            Step::Acknowledge | Step::Start if self.resolution.is_some() => Err(unexpected("resolution")),
            // The step's wire name is the action's name (`Action::parse`).
            step => Ok(Action::parse(&crate::domain::wire_name(&step), self.text, self.resolution)?),
        }
    }
}

/// `POST /api/v1/cases/{id}/changes`: acknowledge, start, answer or close.
#[utoipa::path(post, path = "/api/v1/cases/{id}/changes", tag = "cases", security(("api_token" = [])),
    params(("id" = Uuid, Path)),
    request_body = ChangeInput,
    responses(
        (status = 200, description = "Applied, or applied before under this change id", body = CaseView),
        (status = 403, description = "Not a handler, or another unit's case", body = ErrorBody),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "The case is closed", body = ErrorBody),
        (status = 422, description = "Not a step this case can take now; `field` says why", body = ErrorBody),
    ))]
async fn change(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    Json(input): Json<ChangeInput>,
) -> Result<Response, ApiError> {
    let (change_id, action) = (input.change_id, input.action()?);
    let (case, state) = desk.apply(&caller, id, change_id, action).await?;
    let context = take(&mut desk.contexts(&[&case]).await?, id);
    Ok(axum::Json(view(case, &state, desk.now(), context)).into_response())
}
