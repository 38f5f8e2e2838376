//! One client's case across channels (issue 14), linked by the ministry's
//! own case reference — kept only as its keyed hash (`domain::case_ref`).
//! Every event that carries one adds a touch (migration 0014); from those:
//! - `stages`/`durations`: per stage, how long cases really take, against
//!   the stage's target and legal deadline, and where they stall;
//! - `touches`: one case's contacts, for the analysts' timeline and
//! - `history`: the client's own history page behind a signed link;
//! - `pages`: the analysts' pages of both the stage times and one case.

pub mod durations;
pub mod history;
mod pages;
pub mod stages;
pub mod touches;

use std::sync::Arc;

use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use history::HistoryLinks;

use crate::accounts::auth::{self, Admits};
use crate::domain::time::Clock;
use crate::domain::{CaseKey, CaseKeys, CaseRef};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::storage::Storage;

/// What the case routes and pages share.
#[derive(Clone)]
pub struct Dossiers {
    pub storage: Storage,
    pub catalog: crate::journeys::Live,
    pub keys: CaseKeys,
    pub history: Arc<HistoryLinks>,
    pub clock: Clock,
    /// The ministry's time zone (`cases.utc_offset`), for the days shown.
    pub offset: time::UtcOffset,
}

/// The analysts' routes: stage durations, a case's key and its timeline.
pub fn api_router(state: Dossiers, admits: Admits) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(durations::durations))
        .routes(routes!(key))
        .routes(routes!(timeline))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .with_state(state)
}

/// The client's history page, public, so behind `guard` (the capture
/// routes' per-address limits); and the analysts' pages, for whom `admits`.
pub fn pages_router(state: Dossiers, guard: crate::web::GuardLayer, admits: Admits) -> axum::Router {
    history::router(state.clone()).layer(guard).merge(pages::router(state, admits))
}

fn rfc3339(unix: u32) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(unix)))
        .to_string()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// The ministry's reference, e.g. `Л-2026/117`; sent in a body, not a URL, so no log keeps it.
    case_ref: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyOutput {
    /// 32 hexadecimal digits: the case's id in touchpoint.
    case_key: String,
}

/// `POST /api/v1/case-refs/key`: the key of a reference, to open its timeline.
#[utoipa::path(post, path = "/api/v1/case-refs/key", tag = "dashboards", security(("api_token" = [])),
    request_body = KeyInput,
    responses(
        (status = 200, body = KeyOutput),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not an analyst", body = ErrorBody),
        (status = 422, description = "An empty or too long reference", body = ErrorBody),
    ))]
async fn key(State(state): State<Dossiers>, Json(input): Json<KeyInput>) -> Result<Response, ApiError> {
    let reference = CaseRef::parse("case_ref", Some(input.case_ref))?
        .ok_or_else(|| ApiError::invalid("case_ref", "must not be empty"))?;
    Ok(axum::Json(KeyOutput { case_key: state.keys.key(&reference).to_string() }).into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    case_key: String,
    /// Oldest first, across every channel.
    contacts: Vec<touches::Contact>,
}

/// `GET /api/v1/case-refs/{key}/timeline`
#[utoipa::path(get, path = "/api/v1/case-refs/{key}/timeline", tag = "dashboards", security(("api_token" = [])),
    params(("key" = String, Path, description = "The case key: 32 hexadecimal digits")),
    responses(
        (status = 200, body = Timeline),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not an analyst", body = ErrorBody),
        (status = 404, description = "No contact of this case is stored", body = ErrorBody),
        (status = 422, description = "Not a key", body = ErrorBody),
    ))]
async fn timeline(State(state): State<Dossiers>, Path(key): Path<String>) -> Result<Response, ApiError> {
    let case_key: CaseKey = key.parse().map_err(|()| ApiError::invalid("key", "32 hexadecimal digits"))?;
    let contacts = touches::contacts(&state.storage, case_key, touches::Reader::Lab).await?;
    if contacts.is_empty() {
        return Err(ApiError::NotFound { what: "case", field: "key", id: key });
    }
    Ok(axum::Json(Timeline { case_key: case_key.to_string(), contacts }).into_response())
}
