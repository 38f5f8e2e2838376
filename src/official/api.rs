//! `GET /api/v1/journeys/{id}/official`: the official figures as JSON, for
//! the ministry's systems; the same numbers the report lays out.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::figures::{Figures, figures};
use crate::dashboards::stats::Filters;
use crate::dashboards::{Dashboards, ViewQuery};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::journeys::model::Journey;

/// The journey as it was at the period's end, its filters and figures.
pub async fn read(state: &Dashboards, id: &str, q: &ViewQuery) -> Result<(Journey, Filters, Figures), ApiError> {
    let (journey, filters) = state.journey_in(id, q).await?;
    let figures = figures(state.storage(), &journey, &filters, state.min_answers()).await?;
    Ok((journey, filters, figures))
}

#[utoipa::path(get, path = "/api/v1/journeys/{id}/official", tag = "dashboards", security(("api_token" = [])),
    params(
        ("id" = String, Path, description = "Journey id"),
        ("period" = Option<u32>, Query, description = "7, 30 (default) or 90 days, today included"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD; with `to`, instead of `period`"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("touchpoint" = Option<String>, Query), ("channel" = Option<String>, Query), ("segment" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "Each question of each stage's set, response rates, standards", body = Figures),
        (status = 401, description = "No login and no API token", body = crate::error::ErrorBody),
        (status = 404, description = "No such journey", body = crate::error::ErrorBody),
        (status = 422, description = "A bad filter; `field` names it", body = crate::error::ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(journey = %id))]
pub async fn official(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let (_, _, figures) = read(&state, &id, &query).await?;
    Ok(axum::Json(figures).into_response())
}
