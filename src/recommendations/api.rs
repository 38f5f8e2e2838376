//! The recommendations' API: the lab (analysts) records and decides them,
//! the owner unit's handlers report progress, both read them with their
//! measured effect.

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::Lab;
use super::model::Edit;
use crate::accounts::auth::{self, Admits, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};

/// Analysts create (`lab`); analysts and handlers read and edit (`both`),
/// each edit checked against the caller's role and units.
pub fn router(lab: Lab, analysts: Admits, both: Admits) -> OpenApiRouter {
    let create =
        OpenApiRouter::new().routes(routes!(create)).layer(middleware::from_fn_with_state(analysts, auth::require));
    let work = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(update))
        .routes(routes!(history))
        .layer(middleware::from_fn_with_state(both, auth::require));
    create.merge(work).with_state(lab)
}

/// `GET /api/v1/journeys/{id}/recommendations`
#[utoipa::path(get, path = "/api/v1/journeys/{id}/recommendations", tag = "recommendations", security(("api_token" = [])),
    params(("id" = String, Path, description = "Journey id")),
    responses(
        (status = 200, description = "`{\"recommendations\":[...]}`: each with, once implemented, `windows` and `effect` \
            (`n_before`, `n_after`, `before`, `after`, `difference`, `ci95`, `level`, `interval`, `verdict`, `method`)"),
        (status = 401, description = "No login and no API token", body = ErrorBody),
        (status = 403, description = "Neither an analyst nor a handler", body = ErrorBody),
        (status = 404, description = "No such journey", body = ErrorBody),
    ))]
async fn list(State(lab): State<Lab>, Path(id): Path<String>) -> Result<Response, ApiError> {
    lab.catalog.get().journey_or_404(&id)?;
    let recommendations = lab.list(&id).await?;
    Ok(axum::Json(serde_json::json!({ "recommendations": recommendations })).into_response())
}

/// `POST /api/v1/recommendations`: a new, proposed recommendation.
#[utoipa::path(post, path = "/api/v1/recommendations", tag = "recommendations", security(("api_token" = [])),
    request_body = Edit,
    responses(
        (status = 201, description = "The recommendation as recorded", body = super::model::Recommendation),
        (status = 403, description = "Not an analyst", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody),
    ))]
async fn create(
    State(lab): State<Lab>,
    Extension(caller): Extension<Principal>,
    Json(edit): Json<Edit>,
) -> Result<Response, ApiError> {
    let r = lab.create(edit, &caller.name).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

fn recommendation_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::invalid("id", "a recommendation id (UUID)"))
}

/// `POST /api/v1/recommendations/{id}`: its next version; fields left out stay.
#[utoipa::path(post, path = "/api/v1/recommendations/{id}", tag = "recommendations", security(("api_token" = [])),
    params(("id" = String, Path, description = "The recommendation id")), request_body = Edit,
    responses(
        (status = 200, description = "The new version", body = super::model::Recommendation),
        (status = 403, description = "Not the lab, nor a handler of the owner unit reporting progress", body = ErrorBody),
        (status = 404, description = "No such recommendation", body = ErrorBody),
        (status = 409, description = "A status that cannot follow, a stale `version`, or verified without an improvement", body = ErrorBody),
        (status = 422, description = "A bad field, named", body = ErrorBody),
    ))]
async fn update(
    State(lab): State<Lab>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
    Json(edit): Json<Edit>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(lab.update(recommendation_id(&id)?, edit, &caller).await?).into_response())
}

/// `GET /api/v1/recommendations/{id}/history`: every version, newest first.
#[utoipa::path(get, path = "/api/v1/recommendations/{id}/history", tag = "recommendations", security(("api_token" = [])),
    params(("id" = String, Path, description = "The recommendation id")),
    responses(
        (status = 200, description = "`{\"versions\":[...]}`"),
        (status = 404, description = "No such recommendation", body = ErrorBody),
    ))]
async fn history(State(lab): State<Lab>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = recommendation_id(&id)?;
    let versions = lab.store.history(id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound { what: "recommendation", field: "id", id: id.to_string() });
    }
    Ok(axum::Json(serde_json::json!({ "versions": versions })).into_response())
}
