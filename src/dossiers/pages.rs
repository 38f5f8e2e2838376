//! The analysts' pages of clients' cases (ru/en, plain HTML, no scripts): a
//! journey's stage times as a funnel against targets and legal deadlines,
//! and one case's contacts found by its reference — which goes in a form's
//! body, never a URL, and leaves the page as its key only.

use askama::Template;
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower::util::MapResponseLayer;

use super::Dossiers;
use super::durations::{StageDurations, compute};
use super::touches::{Contact, contacts};
use crate::accounts::auth::{self, Admits, Principal};
use crate::domain::{CaseKey, CaseRef};
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};
use crate::web::{self, Words};

/// `/dashboard/{journey}/stage-durations` and `/case-refs…`, for analysts.
pub fn router(state: Dossiers, admits: Admits) -> Router {
    Router::new()
        .route("/dashboard/{journey}/stage-durations", get(durations))
        .route("/case-refs", post(find))
        .route("/case-refs/{key}", get(case))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

fn render(status: StatusCode, template: impl Template) -> Result<Response, ApiError> {
    let html = template.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    days: Option<u32>,
    lang: Option<String>,
}

/// One stage's line of the funnel, as shown.
struct Line {
    name: String,
    reached: u64,
    moved_on: u64,
    still_there: u64,
    waiting: String,
    median: String,
    p90: String,
    target: String,
    deadline: String,
    past: String,
    /// The median is above the stage's target.
    slow: bool,
}

#[derive(Template)]
#[template(path = "dossier_durations.html")]
struct DurationsPage<'a> {
    lang: &'static str,
    w: Words,
    user: &'a str,
    journey: &'a str,
    title: String,
    days: u32,
    computed_at: String,
    most: u64,
    lines: Vec<Line>,
}

async fn durations(
    State(state): State<Dossiers>,
    Extension(Principal { name, .. }): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), state.offset);
    let catalog = state.catalog.get();
    let journey = catalog.journey_or_404(&id)?;
    let days = q.days.filter(|d| [30, 90, 365].contains(d)).unwrap_or(365);
    let figures = compute(&state, journey, days).await?;
    let computed_at = figures.computed_at.map_or_else(
        || w.pick("ещё не рассчитано", "not computed yet").to_string(),
        |at| humantime::parse_rfc3339(&at).map_or(at, |t| w.time(crate::domain::time::unix(t))),
    );
    let page = DurationsPage {
        lang: w.lang(),
        w,
        user: &name,
        journey: &journey.id,
        title: format!("{}: {}", w.pick("Сроки этапов по делам", "Stage times by case"), w.text(&journey.name)),
        days,
        computed_at,
        most: figures.stages.iter().map(|s| s.reached).max().unwrap_or(0).max(1),
        lines: figures.stages.iter().map(|s| line(&w, s)).collect(),
    };
    render(StatusCode::OK, page)
}

fn line(w: &Words, s: &StageDurations) -> Line {
    let span = |secs: Option<u64>| {
        secs.map_or_else(|| "—".to_string(), |s| crate::web::duration_text(s as f64 * 1000.0, w.en))
    };
    Line {
        name: w.text(&s.name).to_string(),
        reached: s.reached,
        moved_on: s.moved_on,
        still_there: s.still_there,
        waiting: span(s.still_there_median_seconds),
        median: span(s.median_seconds),
        p90: span(s.p90_seconds),
        target: span(s.target_seconds),
        deadline: s
            .legal_deadline_days
            .map_or_else(|| "—".to_string(), |d| format!("{d} {}", w.pick("раб. дн.", "working days"))),
        past: s
            .past_deadline_share
            .map_or_else(|| "—".to_string(), |share| format!("{} ({:.0} %)", s.past_deadline, share * 100.0)),
        slow: matches!((s.median_seconds, s.target_seconds), (Some(m), Some(t)) if m > t),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindForm {
    case_ref: String,
    lang: Option<String>,
}

/// `POST /case-refs`: the reference in, its key's page out.
async fn find(
    State(state): State<Dossiers>,
    JsonOrForm { value: form, .. }: JsonOrForm<FindForm>,
) -> Result<Response, ApiError> {
    let reference = CaseRef::parse("case_ref", Some(form.case_ref))?
        .ok_or_else(|| ApiError::invalid("case_ref", "must not be empty"))?;
    let lang = if form.lang.as_deref() == Some("en") { "?lang=en" } else { "" };
    Ok(Redirect::to(&format!("/case-refs/{}{lang}", state.keys.key(&reference))).into_response())
}

/// One contact, as shown.
struct Row {
    at: String,
    stage: String,
    channel: String,
    kind: &'static str,
    details: String,
}

#[derive(Template)]
#[template(path = "dossier_case.html")]
struct CasePage<'a> {
    lang: &'static str,
    w: Words,
    user: &'a str,
    key: String,
    rows: Vec<Row>,
}

async fn case(
    State(state): State<Dossiers>,
    Extension(Principal { name, .. }): Extension<Principal>,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), state.offset);
    let case_key: CaseKey = key.parse().map_err(|()| ApiError::invalid("key", "32 hexadecimal digits"))?;
    let rows: Vec<Row> = contacts(&state.storage, case_key, super::touches::Reader::Lab)
        .await?
        .iter()
        .map(|c| row(&state, &w, c))
        .collect();
    let status = if rows.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    render(status, CasePage { lang: w.lang(), w, user: &name, key: case_key.to_string(), rows })
}

fn row(state: &Dossiers, w: &Words, c: &Contact) -> Row {
    let stage = state
        .catalog
        .get()
        .journey(&c.journey)
        .and_then(|j| j.stages.iter().find(|s| s.id == c.stage))
        .map_or_else(|| c.stage.clone(), |s| w.text(&s.name).to_string());
    let channel =
        state.catalog.get().touchpoint(&c.touchpoint).map_or_else(|| c.touchpoint.clone(), |t| w.text(&t.name).into());
    let kind = match c.kind.as_str() {
        "call" => w.pick("звонок", "call"),
        "letter" => w.pick("письмо", "letter"),
        "timing" => w.pick("время", "time spent"),
        "email_rating" => w.pick("оценка по ссылке из письма", "rating from an e-mail link"),
        "answers" => w.pick("ответы на вопросы", "answers to the questions"),
        _ => w.pick("оценка", "rating"),
    };
    let mut details = details(w, c);
    if let Some(answers) = c.answers_text(&state.catalog.get(), w.en) {
        details = if details.is_empty() { answers } else { format!("{answers}; {details}") };
    }
    Row { at: w.time(c.at), stage, channel, kind, details }
}

/// What the contact says, in one line.
fn details(w: &Words, c: &Contact) -> String {
    let mut parts = Vec::new();
    if let (Some(scale), Some(score)) = (&c.scale, c.score) {
        parts.push(format!("{scale} {score}"));
    }
    if let Some(t) = c.transfers {
        parts.push(format!("{}: {t}", w.pick("переводов", "transfers")));
    }
    if let Some(s) = c.wait_seconds {
        parts.push(format!("{}: {s} {}", w.pick("ожидание", "wait"), w.pick("с", "s")));
    }
    if let Some(ms) = c.duration_ms {
        parts.push(crate::web::duration_text(ms as f64, w.en));
    }
    if let Some(at) = c.acknowledged_at {
        parts.push(format!("{} {}", w.pick("подтверждено", "acknowledged"), w.time(at)));
    }
    if let Some(at) = c.answered_at {
        parts.push(format!("{} {}", w.pick("ответ", "answered"), w.time(at)));
    }
    if let Some(status) = c.case_status {
        parts.push(format!(
            "{}: {}",
            w.pick("случай", "case"),
            crate::follow::status_text(status, c.case_answer.is_some(), w.en)
        ));
    }
    if let Some(comment) = &c.comment {
        parts.push(format!("«{comment}»"));
    }
    parts.join("; ")
}
