//! Read-only HTTP views of the journeys and the register.
//!
//! These describe the service, not its clients: the order (5.2) has the
//! register published on the ministry's website, so they need no login.

use axum::Json;
use axum::extract::State;

use crate::extract::Path;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Catalog;
use super::model::{Experience, Journey, Metric, Stage, Tag, Text, Touchpoint};
use crate::domain::{Emotion, Segment};
use crate::error::{ApiError, ErrorBody};

pub fn router(catalog: crate::journeys::Live) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_journeys))
        .routes(routes!(get_journey))
        .routes(routes!(list_touchpoints))
        .with_state(catalog)
}

#[derive(Serialize)]
struct JourneySummary<'a> {
    id: &'a str,
    name: &'a Text,
    stages: usize,
}

#[derive(Serialize)]
struct JourneyList<'a> {
    journeys: Vec<JourneySummary<'a>>,
}

/// The journeys: id, name (ru/en), number of stages.
#[utoipa::path(get, path = "/api/v1/journeys", tag = "journeys", responses((status = 200, description = "`{\"journeys\":[...]}`")))]
#[tracing::instrument(skip_all)]
async fn list_journeys(State(catalog): State<crate::journeys::Live>) -> Json<serde_json::Value> {
    let catalog = catalog.get();
    let journeys =
        catalog.journeys().map(|j| JourneySummary { id: &j.id, name: &j.name, stages: j.stages.len() }).collect();
    Json(serde_json::json!(JourneyList { journeys }))
}

/// A journey with each stage's touchpoints resolved from the register.
#[derive(Serialize)]
struct JourneyView<'a> {
    id: &'a str,
    name: &'a Text,
    authority: &'a Option<Text>,
    segments: &'a [Segment],
    /// The journey's case rules, with the unit of stages that name none.
    cases: &'a super::case_rules::CaseRules,
    stages: Vec<StageView<'a>>,
}

#[derive(Serialize)]
struct StageView<'a> {
    id: &'a str,
    /// 1-based position on the map.
    number: usize,
    name: &'a Text,
    goal: &'a Text,
    actions: &'a Option<Text>,
    touchpoints: Vec<&'a Touchpoint>,
    emotion: Emotion,
    experience: &'a Experience,
    recommendations: &'a [Text],
    metrics: &'a [Metric],
    tags: &'a [Tag],
    /// The unit that works the stage's cases, if the stage names its own
    /// (else the journey's `cases.unit`).
    unit: &'a Option<String>,
    legal_deadline_days: Option<u16>,
    /// The stage's question set, if it asks one.
    questions: &'a Option<crate::journeys::model::Questions>,
}

impl<'a> JourneyView<'a> {
    fn new(journey: &'a Journey, catalog: &'a Catalog) -> Self {
        let stage = |(i, s): (usize, &'a Stage)| StageView {
            id: &s.id,
            number: i + 1,
            name: &s.name,
            goal: &s.goal,
            actions: &s.actions,
            // Validated at load: every id is in the register.
            touchpoints: s.touchpoints.iter().filter_map(|t| catalog.touchpoint(t)).collect(),
            emotion: s.emotion,
            experience: &s.experience,
            recommendations: &s.recommendations,
            metrics: &s.metrics,
            tags: &s.tags,
            unit: &s.unit,
            legal_deadline_days: s.legal_deadline_days,
            questions: &s.questions,
        };
        JourneyView {
            id: &journey.id,
            name: &journey.name,
            authority: &journey.authority,
            segments: &journey.segments,
            cases: &journey.cases,
            stages: journey.stages.iter().enumerate().map(stage).collect(),
        }
    }
}

/// One journey with its stages in order, touchpoints resolved from the register.
#[utoipa::path(get, path = "/api/v1/journeys/{id}", tag = "journeys",
    params(("id" = String, Path, description = "Journey id, e.g. scrap-metal-licensing")),
    responses(
        (status = 200, description = "The journey map"),
        (status = 404, description = "No such journey", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(journey = %id))]
async fn get_journey(
    State(catalog): State<crate::journeys::Live>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let catalog = catalog.get();
    let journey = catalog.journey_or_404(&id)?;
    Ok(Json(serde_json::json!(JourneyView::new(journey, &catalog))))
}

/// The touchpoint register: authority, processes, touchpoints.
#[utoipa::path(get, path = "/api/v1/touchpoints", tag = "journeys", responses((status = 200, description = "The register")))]
#[tracing::instrument(skip_all)]
async fn list_touchpoints(State(catalog): State<crate::journeys::Live>) -> Json<serde_json::Value> {
    let catalog = catalog.get();
    let register = &catalog.register;
    Json(serde_json::json!({
        "authority": register.authority,
        "source": register.source,
        "processes": register.processes,
        "touchpoints": register.touchpoints,
    }))
}
