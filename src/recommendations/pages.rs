//! The lab's page of recommendations (ru/en, plain HTML forms): per
//! journey, each recommendation with its status, unit, dates, measure and
//! measured effect; analysts record and decide them, handlers of the owner
//! unit report progress. Each form answers 303 back to the page, or the
//! page again with why not.

use askama::Template;
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower::util::MapResponseLayer;
use uuid::Uuid;

use super::model::{Edit, Status};
use super::{Lab, words};
use crate::accounts::auth::{self, Admits, Principal};
use crate::domain::{Aim, Measure, Role, wire_name};
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};
use crate::web::{self, Words};

/// `/recommendations`: read and edited by `both` (each edit checked against
/// the caller's role and units), new ones by `analysts`.
pub fn router(lab: Lab, analysts: Admits, both: Admits) -> Router {
    let work = Router::new()
        .route("/recommendations", get(page))
        .route("/recommendations/{id}", post(update))
        .layer(middleware::from_fn_with_state(both, auth::require));
    let create = Router::new()
        .route("/recommendations", post(create))
        .layer(middleware::from_fn_with_state(analysts, auth::require));
    work.merge(create)
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(lab)
}

struct Line {
    id: Uuid,
    version: u32,
    stage: String,
    text: String,
    status: String,
    owner: String,
    planned: String,
    implemented: String,
    measure: String,
    measure_id: String,
    tag: String,
    question: String,
    aim: String,
    window: u16,
    effect: String,
    /// Statuses the caller may choose: this one and the next ones.
    choices: Vec<(String, &'static str)>,
    /// Whether the caller may edit it at all.
    editable: bool,
}

#[derive(Template)]
#[template(path = "recommendations.html")]
struct RecommendationsPage<'a> {
    lang: &'static str,
    w: Words,
    user: &'a str,
    analyst: bool,
    message: Option<String>,
    journeys: Vec<(String, String)>,
    journey: String,
    lines: Vec<Line>,
    stages: Vec<(String, String)>,
    measures: Vec<(String, &'static str)>,
    tags: Vec<(String, String)>,
    /// The questions of the journey's sets: id, "stage: question".
    questions: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    journey: Option<String>,
    done: Option<String>,
}

async fn page(
    State(lab): State<Lab>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), lab.offset);
    let message = q.done.as_deref().map(|_| w.pick("Сохранено.", "Saved.").to_string());
    render(&lab, &caller, w, q.journey.unwrap_or_default(), message, StatusCode::OK).await
}

async fn render(
    lab: &Lab,
    caller: &Principal,
    w: Words,
    journey: String,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let catalog = lab.catalog.get();
    let journey =
        if journey.is_empty() { catalog.journeys().next().map(|j| j.id.clone()).unwrap_or_default() } else { journey };
    let j = catalog.journey_or_404(&journey)?;
    let analyst = caller.grant.role == Role::Analyst;
    let stage_name =
        |id: &str| j.stages.iter().find(|s| s.id == id).map_or(id.to_string(), |s| w.text(&s.name).to_string());
    let day = |d: Option<time::Date>| d.map_or_else(String::new, |d| d.to_string());
    let lines = lab
        .list(&journey)
        .await?
        .iter()
        .map(|t| {
            let r = &t.recommendation;
            let mine = caller.grant.role == Role::Handler && caller.grant.units.contains(&r.owner_unit);
            let mut choices = vec![r.status];
            choices.extend(
                r.status.next().iter().filter(|s| analyst || matches!(s, Status::InProgress | Status::Implemented)),
            );
            let tag = match r.measure {
                Measure::TagShare => format!(" «{}»", r.tag),
                Measure::Criterion => format!(" «{}»", r.question),
                _ => String::new(),
            };
            Line {
                id: r.id,
                version: r.version,
                stage: stage_name(&r.stage),
                text: w.text(&r.text).to_string(),
                status: words::status(r.status, &w).to_string(),
                owner: r.owner_unit.clone(),
                planned: day(r.planned_on),
                implemented: day(r.implemented_on),
                measure: format!("{}{tag}, {}", words::measure(r.measure, &w), words::aim(r.aim, &w)),
                measure_id: wire_name(&r.measure),
                tag: r.tag.clone(),
                question: r.question.clone(),
                aim: wire_name(&r.aim),
                window: r.window_days,
                effect: words::effect(t, &w),
                choices: choices.into_iter().map(|s| (wire_name(&s), words::status(s, &w))).collect(),
                editable: (analyst || mine) && !r.status.next().is_empty(),
            }
        })
        .collect();
    let page = RecommendationsPage {
        lang: w.lang(),
        w,
        user: &caller.name,
        analyst,
        message,
        journeys: catalog.journeys().map(|j| (j.id.clone(), w.text(&j.name).to_string())).collect(),
        journey: journey.clone(),
        lines,
        stages: j.stages.iter().map(|s| (s.id.clone(), w.text(&s.name).to_string())).collect(),
        measures: Measure::ALL.iter().map(|m| (wire_name(m), words::measure(*m, &w))).collect(),
        tags: j
            .stages
            .iter()
            .flat_map(|s| {
                s.tags.iter().map(move |t| (t.id.clone(), format!("{}: {}", w.text(&s.name), w.text(&t.name))))
            })
            .collect(),
        questions: questions(j, &w),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// Each question a stage of `j` asks, once: its id, and the first stage
/// asking it with the question's words.
fn questions(j: &crate::journeys::model::Journey, w: &Words) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for stage in &j.stages {
        for q in stage.question_set().map(|set| set.questions).unwrap_or_default() {
            if !out.iter().any(|(id, _)| *id == q.id) {
                out.push((q.id.clone(), format!("{}: {}", w.text(&stage.name), q.text(w.en))));
            }
        }
    }
    out
}

/// A form's fields; a field the form does not send stays as it is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    lang: Option<String>,
    journey: Option<String>,
    version: Option<String>,
    stage: Option<String>,
    text_ru: Option<String>,
    text_en: Option<String>,
    status: Option<String>,
    owner_unit: Option<String>,
    planned_on: Option<String>,
    implemented_on: Option<String>,
    measure: Option<String>,
    tag: Option<String>,
    question: Option<String>,
    aim: Option<String>,
    window_days: Option<String>,
    note: Option<String>,
}

/// A choice from its name; empty is no choice.
fn choice<T: serde::de::DeserializeOwned>(field: &str, text: Option<String>) -> Result<Option<T>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => serde_json::from_value(serde_json::Value::String(t.clone()))
            .map(Some)
            .map_err(|_| ApiError::invalid(field, format!("{t:?} is not one of the choices"))),
    }
}

fn number<T: std::str::FromStr>(field: &str, text: Option<String>) -> Result<Option<T>, ApiError> {
    match text.filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(t) => t.trim().parse().map(Some).map_err(|_| ApiError::invalid(field, "a whole number")),
    }
}

impl Form {
    fn edit(self) -> Result<Edit, ApiError> {
        Ok(Edit {
            version: number("version", self.version)?,
            status: choice::<Status>("status", self.status)?,
            measure: choice::<Measure>("measure", self.measure)?,
            aim: choice::<Aim>("aim", self.aim)?,
            window_days: number("window_days", self.window_days)?,
            journey: self.journey,
            stage: self.stage,
            text_ru: self.text_ru,
            text_en: self.text_en,
            owner_unit: self.owner_unit,
            planned_on: self.planned_on,
            implemented_on: self.implemented_on,
            tag: self.tag,
            question: self.question,
            note: self.note,
        })
    }
}

async fn create(
    State(lab): State<Lab>,
    Extension(caller): Extension<Principal>,
    JsonOrForm { value: form, .. }: JsonOrForm<Form>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), lab.offset);
    let journey = form.journey.clone().unwrap_or_default();
    let outcome = match form.edit() {
        Ok(edit) => lab.create(edit, &caller.name).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&lab, &caller, w, journey, outcome).await
}

async fn update(
    State(lab): State<Lab>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    JsonOrForm { value: mut form, .. }: JsonOrForm<Form>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), lab.offset);
    // The page's journey, not a move to another: the form names it to come back.
    let journey = form.journey.take().unwrap_or_default();
    let outcome = match form.edit() {
        Ok(edit) => lab.update(id, edit, &caller).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&lab, &caller, w, journey, outcome).await
}

/// 303 back to the page, or the page with why not.
async fn answer(
    lab: &Lab,
    caller: &Principal,
    w: Words,
    journey: String,
    outcome: Result<(), ApiError>,
) -> Result<Response, ApiError> {
    let lang = if w.en { "&lang=en" } else { "" };
    match outcome {
        Ok(()) => {
            let to = url::form_urlencoded::Serializer::new(String::new()).append_pair("journey", &journey).finish();
            Ok(Redirect::to(&format!("/recommendations?{to}&done=saved{lang}")).into_response())
        }
        Err(
            e @ (ApiError::Invalid { .. }
            | ApiError::Conflict { .. }
            | ApiError::NotFound { .. }
            | ApiError::Forbidden { .. }),
        ) => {
            let status = e.status();
            let message = match &e {
                ApiError::Invalid { field, message } => format!("{field}: {message}"),
                other => other.to_string(),
            };
            let journey = if lab.catalog.get().journey_or_404(&journey).is_ok() { journey } else { String::new() };
            render(lab, caller, w, journey, Some(message), status).await
        }
        Err(e) => Err(e),
    }
}
