//! The lab analysts' dashboards: the journey map with its measured scores,
//! time spent and the order's standards, behind a login; and the read API
//! (`/api/v1/journeys/{id}/stats`, `/charts/...`) behind the same auth.

pub mod charts;
pub(crate) mod export;
mod pages;
pub mod reach;
pub mod stats;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;

use crate::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower::util::MapResponseLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::auth::{self, Auth};
use crate::domain::Role;
use crate::domain::time::unix;
use crate::error::ApiError;
use crate::journeys::Catalog;
use crate::journeys::model::Journey;
use crate::storage::Storage;
use crate::web;
use charts::{Chart, Words};
use stats::Filters;

#[derive(Clone)]
pub struct Dashboards {
    pub(crate) catalog: crate::journeys::Live,
    storage: Storage,
    auth: Arc<Auth>,
    min_answers: u64,
    /// Past versions of the journeys: a past period shows its stages as they were.
    register: crate::register::store::RegisterStore,
    /// The lab's recommendations: marked on the timeline, listed on the map.
    pub lab: crate::recommendations::Lab,
    /// What "today" and "the last N days" count from.
    clock: crate::domain::time::Clock,
}

impl Dashboards {
    pub fn new(
        catalog: crate::journeys::Live,
        storage: Storage,
        auth: Arc<Auth>,
        min_answers: u64,
        lab: crate::recommendations::Lab,
        clock: crate::domain::time::Clock,
    ) -> Dashboards {
        let register = crate::register::store::RegisterStore::new(storage.clone());
        Dashboards { catalog, storage, auth, min_answers, register, lab, clock }
    }

    /// Now, as unix seconds, by the service's one clock.
    pub fn now(&self) -> u32 {
        unix((self.clock)())
    }

    /// `journey` as the version in force at the end of a period ending at
    /// `to` (exclusive) had it; as it is when no version is older.
    pub async fn as_of(&self, journey: &Journey, to: u32) -> Result<Journey, ApiError> {
        let then = self.register.documents_at(to.saturating_sub(1)).await?;
        Ok(then
            .and_then(|docs| docs.journeys.into_iter().find(|j| j.id == journey.id))
            .unwrap_or_else(|| journey.clone()))
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Fewer answers than this give no score.
    pub(crate) fn min_answers(&self) -> u64 {
        self.min_answers
    }

    /// Who may read the dashboards, their API and the metrics: analysts.
    pub fn readers(&self) -> auth::Admits {
        self.auth.admits(&[Role::Analyst])
    }

    /// A view's checked filters, and its journey as it was at their period's end.
    pub(crate) async fn journey_in(&self, id: &str, query: &ViewQuery) -> Result<(Journey, Filters), ApiError> {
        let catalog = self.catalog.get();
        let now = catalog.journey_or_404(id)?;
        let filters = query.filters(now, &catalog, self.now())?;
        Ok((self.as_of(now, filters.to).await?, filters))
    }

    /// A view's journey, its checked filters and the `parts` of its numbers.
    pub(crate) async fn view(
        &self,
        id: &str,
        query: &ViewQuery,
        parts: stats::Parts,
    ) -> Result<(Journey, Filters, stats::JourneyStats), ApiError> {
        let (journey, filters) = self.journey_in(id, query).await?;
        let mut stats = stats::journey_stats(&self.storage, &journey, &filters, self.min_answers, parts).await?;
        if parts.timeline {
            stats.marks = self.lab.marks(&journey.id, query.english()).await?;
        }
        Ok((journey, filters, stats))
    }
}

/// The read API, described in the OpenAPI document; for analysts only.
pub fn api_router(state: Dashboards) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(stats_api))
        .routes(routes!(chart_api))
        .layer(middleware::from_fn_with_state(state.readers(), auth::require))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

/// The pages; everything but the login page is for analysts only.
pub fn pages_router(state: Dashboards) -> Router {
    let guarded = Router::new()
        .route("/dashboard", get(pages::index))
        .route("/dashboard/{journey}", get(pages::journey))
        .route("/dashboard/{journey}/export/stages.csv", get(export::stages))
        .route("/dashboard/{journey}/export/feedback.csv", get(export::feedback))
        .layer(middleware::from_fn_with_state(state.readers(), auth::require));
    Router::new()
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .merge(guarded)
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

/// The filters of every view, as they stand in its URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ViewQuery {
    /// 7, 30 or 90 days back from now; default 30.
    pub period: Option<u32>,
    /// `YYYY-MM-DD`, inclusive; with `to`, overrides `period`.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    pub touchpoint: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
    pub lang: Option<String>,
}

/// The days a view may span, 2000-01-01 to 2099-12-31 (UTC): ClickHouse 18.16
/// cannot read a range that starts at the epoch itself, a day past 2106 does
/// not fit its `DateTime`, and no event predates this service.
const FIRST_DAY: u32 = 946_684_800;
const LAST_DAY: u32 = 4_102_358_400;

impl ViewQuery {
    pub fn english(&self) -> bool {
        self.lang.as_deref().is_some_and(|l| l.starts_with("en"))
    }

    /// The query string the view was asked with, for its links.
    pub fn query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("period", &self.period().to_string());
        for (k, v) in [
            ("from", &self.from),
            ("to", &self.to),
            ("touchpoint", &self.touchpoint),
            ("channel", &self.channel),
            ("segment", &self.segment),
            ("lang", &self.lang),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }

    pub fn period(&self) -> u32 {
        self.period.filter(|p| matches!(p, 7 | 30 | 90)).unwrap_or(30)
    }

    /// Checked filters; unknown values are 422 naming the parameter.
    pub fn filters(&self, journey: &Journey, catalog: &Catalog, now: u32) -> Result<Filters, ApiError> {
        let day = |field: &str, text: &str| -> Result<u32, ApiError> {
            let day = humantime::parse_rfc3339_weak(&format!("{text}T00:00:00Z"))
                .map(unix)
                .map_err(|_| ApiError::invalid(field, format!("{text:?} is not a date like 2026-11-01")))?;
            if !(FIRST_DAY..=LAST_DAY).contains(&day) {
                return Err(ApiError::invalid(field, "the dashboards cover 2000-01-01 to 2099-12-31"));
            }
            Ok(day)
        };
        let (from, to) = match (&self.from, &self.to) {
            (Some(f), Some(t)) => (day("from", f)?, day("to", t)? + 86_400),
            // Whole days, today included: the rollups count by day.
            (None, None) => {
                let tomorrow = (now / 86_400 + 1) * 86_400;
                (tomorrow.saturating_sub(self.period() * 86_400), tomorrow)
            }
            _ => return Err(ApiError::invalid("to", "give both from and to, or neither")),
        };
        if to <= from {
            return Err(ApiError::invalid("to", "must not be before from"));
        }
        let present = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let touchpoint = present(&self.touchpoint);
        if let Some(t) = &touchpoint
            && catalog.touchpoint(t).is_none()
        {
            return Err(ApiError::invalid("touchpoint", format!("unknown touchpoint {t:?}")));
        }
        let segment = present(&self.segment);
        if let Some(s) = &segment
            && !["individual", "legal_entity", "sole_proprietor", "internal"].contains(&s.as_str())
        {
            return Err(ApiError::invalid("segment", format!("unknown segment {s:?}")));
        }
        let channel = present(&self.channel);
        if let Some(c) = &channel
            && !catalog.register.touchpoints.iter().any(|t| t.channel.name() == *c)
        {
            return Err(ApiError::invalid("channel", format!("unknown channel {c:?}")));
        }
        let _ = journey;
        Ok(Filters { from, to, touchpoint, channel, segment })
    }
}

/// `GET /api/v1/journeys/{id}/stats`: the per-stage aggregates the charts plot.
#[utoipa::path(get, path = "/api/v1/journeys/{id}/stats", tag = "dashboards", security(("api_token" = [])),
    params(
        ("id" = String, Path, description = "Journey id"),
        ("period" = Option<u32>, Query, description = "7, 30 (default) or 90 days, today included"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD; with `to`, instead of `period`"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("touchpoint" = Option<String>, Query), ("channel" = Option<String>, Query), ("segment" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "`{\"stages\":[...],\"calls\":{...},\"letters\":{...}}`"),
        (status = 401, description = "No login and no API token", body = crate::error::ErrorBody),
        (status = 404, description = "No such journey", body = crate::error::ErrorBody),
        (status = 422, description = "A bad filter; `field` names it", body = crate::error::ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(journey = %id))]
async fn stats_api(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let (_, _, stats) = state.view(&id, &query, stats::Parts::ALL).await?;
    Ok(axum::Json(stats).into_response())
}

/// `GET /api/v1/journeys/{id}/charts/{chart}.svg|.png`.
#[utoipa::path(get, path = "/api/v1/journeys/{id}/charts/{chart}", tag = "dashboards", security(("api_token" = [])),
    params(
        ("id" = String, Path, description = "Journey id"),
        ("chart" = String, Path, description = "stages, time, heatmap, timeline or standards, then .svg or .png"),
        ("period" = Option<u32>, Query), ("touchpoint" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("segment" = Option<String>, Query), ("lang" = Option<String>, Query, description = "ru (default) or en"),
    ),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml"),
        (status = 401, description = "No login and no API token", body = crate::error::ErrorBody),
        (status = 404, description = "No such journey, chart or format", body = crate::error::ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(journey = %id, chart = %file))]
async fn chart_api(
    State(state): State<Dashboards>,
    Path((id, file)): Path<(String, String)>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let (name, extension) = file.rsplit_once('.').unwrap_or((&file, ""));
    let chart = Chart::parse(name).ok_or(ApiError::NotFound { what: "chart", field: "chart", id: name.to_string() })?;
    let (_, _, stats) = state.view(&id, &query, chart.parts()).await?;
    let words = Words { en: query.english() };
    let failed = |e| ApiError::Internal(anyhow::anyhow!("drawing {name} failed: {e}"));
    let (body, content_type) = match extension {
        "svg" => (charts::svg(chart, &stats, &words).map_err(failed)?.into_bytes(), "image/svg+xml"),
        "png" => (charts::png(chart, &stats, &words).map_err(failed)?, "image/png"),
        other => return Err(ApiError::NotFound { what: "chart format", field: "chart", id: other.to_string() }),
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response())
}
