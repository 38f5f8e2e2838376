//! The register's API: drafts for editors, decisions for approvers, and
//! every version for anyone (order 5.2).

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::change::Change;
use super::desk::{Approved, Desk};
use super::store::{ChangeState, VersionInfo};
use crate::accounts::auth::{self, Admits, Principal};
use crate::domain::time::unix;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};

/// Routes for editors (`drafting`), approvers (`deciding`), and both
/// (`reading`); the versions are public.
pub fn router(desk: Desk, drafting: Admits, deciding: Admits, reading: Admits) -> OpenApiRouter {
    let draft =
        OpenApiRouter::new().routes(routes!(draft)).layer(middleware::from_fn_with_state(drafting, auth::require));
    let decide = OpenApiRouter::new()
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(published))
        .layer(middleware::from_fn_with_state(deciding, auth::require));
    let read =
        OpenApiRouter::new().routes(routes!(changes)).layer(middleware::from_fn_with_state(reading, auth::require));
    let public = OpenApiRouter::new().routes(routes!(versions)).routes(routes!(version)).routes(routes!(differences));
    draft.merge(decide).merge(read).merge(public).with_state(desk)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftInput {
    change: Change,
    /// Why the register must change (order 5.3).
    reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Drafted {
    change_id: Uuid,
    /// The clause of order 5.3 the change falls under; none for a stage.
    clause: Option<&'static str>,
}

/// `POST /api/v1/register/changes`: a draft, checked against the version in force.
#[utoipa::path(post, path = "/api/v1/register/changes", tag = "register", security(("api_token" = [])),
    request_body = DraftInput,
    responses(
        (status = 201, body = Drafted),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Not an editor", body = ErrorBody),
        (status = 422, description = "The change cannot apply: the field is named", body = ErrorBody),
    ))]
async fn draft(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Json(input): Json<DraftInput>,
) -> Result<Response, ApiError> {
    let clause = input.change.clause();
    let id = desk.draft(input.change, input.reason, &caller.name, &caller.grant.units).await?;
    Ok((StatusCode::CREATED, axum::Json(Drafted { change_id: id, clause })).into_response())
}

fn change_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::invalid("id", "a change id (UUID)"))
}

/// `POST /api/v1/register/changes/{id}/approve`: the draft becomes the next version.
#[utoipa::path(post, path = "/api/v1/register/changes/{id}/approve", tag = "register", security(("api_token" = [])),
    params(("id" = String, Path, description = "The change id")),
    responses(
        (status = 200, body = Approved),
        (status = 403, description = "Not an approver", body = ErrorBody),
        (status = 404, description = "No such change", body = ErrorBody),
        (status = 409, description = "Already included or turned down", body = ErrorBody),
        (status = 422, description = "No longer applies to the version in force", body = ErrorBody),
    ))]
async fn approve(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(desk.approve(change_id(&id)?, &caller.name).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Why the change is turned down, for its editor.
    decision: String,
}

/// `POST /api/v1/register/changes/{id}/reject`
#[utoipa::path(post, path = "/api/v1/register/changes/{id}/reject", tag = "register", security(("api_token" = [])),
    params(("id" = String, Path, description = "The change id")), request_body = Decision,
    responses(
        (status = 204, description = "Turned down"),
        (status = 403, description = "Not an approver", body = ErrorBody),
        (status = 404, description = "No such change", body = ErrorBody),
        (status = 409, description = "Already included or turned down", body = ErrorBody),
    ))]
async fn reject(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
    Json(input): Json<Decision>,
) -> Result<Response, ApiError> {
    desk.reject(change_id(&id)?, &caller.name, input.decision).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    change_id: Uuid,
    /// `draft`, `approved`, `rejected` or `withdrawn`.
    state: &'static str,
    /// The version that includes it, once approved.
    version: Option<u32>,
    change: Change,
    clause: Option<&'static str>,
    reason: String,
    author: String,
    unit: String,
    /// Unix seconds.
    created_at: u32,
    decided_by: String,
    decision: String,
}

/// `GET /api/v1/register/changes`: every change, newest first.
#[utoipa::path(get, path = "/api/v1/register/changes", tag = "register", security(("api_token" = [])),
    responses(
        (status = 200, description = "`{\"changes\": [ChangeView]}`"),
        (status = 403, description = "Neither an editor nor an approver", body = ErrorBody),
    ))]
async fn changes(State(desk): State<Desk>) -> Result<Response, ApiError> {
    let mut views = Vec::new();
    for (row, state) in desk.store.changes().await? {
        let change = row.change()?;
        let (version, decided_by) = match &state {
            ChangeState::Approved { version, by } => (Some(*version), by.clone()),
            _ => (None, row.decided_by.clone()),
        };
        views.push(ChangeView {
            change_id: row.change_id,
            state: state.name(),
            version,
            clause: change.clause(),
            change,
            reason: row.reason,
            author: row.author,
            unit: row.unit,
            created_at: row.created_at,
            decided_by,
            decision: row.decision,
        });
    }
    Ok(axum::Json(serde_json::json!({ "changes": views })).into_response())
}

/// A version with where it stands against order 5.4.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    #[serde(flatten)]
    info: VersionInfo,
    /// `met` or `late` once published; `due` or `overdue` until then.
    publication: &'static str,
}

/// `GET /api/v1/register/versions`: every version, newest first (public, order 5.2).
#[utoipa::path(get, path = "/api/v1/register/versions", tag = "register",
    responses((status = 200, description = "`{\"versions\": [VersionView]}`")))]
async fn versions(State(desk): State<Desk>) -> Result<Response, ApiError> {
    let now = unix((desk.clock)());
    let versions: Vec<VersionView> = desk
        .store
        .versions()
        .await?
        .into_iter()
        .map(|info| VersionView { publication: info.publication(now), info })
        .collect();
    Ok(axum::Json(serde_json::json!({ "versions": versions })).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedInput {
    /// The page of the ministry's site that shows the version.
    url: String,
    /// When it appeared there (RFC 3339, UTC); default: now.
    published_at: Option<String>,
}

/// `POST /api/v1/register/versions/{version}/published`: the version is on the ministry's site (5.4).
#[utoipa::path(post, path = "/api/v1/register/versions/{version}/published", tag = "register",
    security(("api_token" = [])), params(("version" = u32, Path, description = "The version")),
    request_body = PublishedInput,
    responses(
        (status = 204, description = "Recorded"),
        (status = 403, description = "Not an approver", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody),
        (status = 422, description = "A bad URL or time", body = ErrorBody),
    ))]
async fn published(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(version): Path<String>,
    Json(input): Json<PublishedInput>,
) -> Result<Response, ApiError> {
    let number: u32 = version.parse().map_err(|_| ApiError::invalid("version", "a version number"))?;
    desk.published(number, input.url, input.published_at.as_deref(), &caller.name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/register/versions/{version}`: the register and the journeys of that version.
#[utoipa::path(get, path = "/api/v1/register/versions/{version}", tag = "register",
    params(("version" = u32, Path, description = "1 is the first import")),
    responses(
        (status = 200, description = "`{\"register\": …, \"journeys\": […]}`"),
        (status = 404, description = "No such version", body = ErrorBody),
    ))]
async fn version(State(desk): State<Desk>, Path(version): Path<String>) -> Result<Response, ApiError> {
    let number: u32 = version.parse().map_err(|_| ApiError::invalid("version", "a version number"))?;
    let docs = desk.store.documents(number).await?;
    let docs = docs.ok_or(ApiError::NotFound { what: "version", field: "version", id: version })?;
    Ok(axum::Json(docs).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Between {
    /// The older version.
    from: u32,
    /// The newer version.
    to: u32,
}

/// `GET /api/v1/register/diff?from=1&to=3`: what changed between two versions (public).
#[utoipa::path(get, path = "/api/v1/register/diff", tag = "register", params(Between),
    responses(
        (status = 200, description = "`{\"from\": 1, \"to\": 3, \"differences\": [Difference]}`"),
        (status = 404, description = "No such version", body = ErrorBody),
        (status = 422, description = "`from` or `to` missing or not a number", body = ErrorBody),
    ))]
async fn differences(State(desk): State<Desk>, Query(between): Query<Between>) -> Result<Response, ApiError> {
    let mut docs = Vec::new();
    for (field, n) in [("from", between.from), ("to", between.to)] {
        let found = desk.store.documents(n).await?;
        docs.push(found.ok_or(ApiError::NotFound { what: "version", field, id: n.to_string() })?);
    }
    let differences = super::diff::diff(&docs[0], &docs[1]);
    Ok(axum::Json(serde_json::json!({ "from": between.from, "to": between.to, "differences": differences }))
        .into_response())
}
