//! The operators' page of the phone log (issue 18): a ministry without a
//! call-centre system logs each call — its process, waiting and talk time,
//! transfers, whether it was resolved — and the client's answers to the
//! stage's question set, from the keyboard, as `POST /api/v1/calls` would.
//! For handlers; plain HTML forms, no scripts. Each form carries the call's
//! event id, made when the page was drawn: sending it twice logs one call.

use std::time::{Duration, SystemTime};

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

use super::{CallInput, Capture, MAX_CALL_SECONDS, form_answers, log_call};
use crate::accounts::auth::{self, Admits, Principal};
use crate::domain::time::STAFF_MAX_AGE;
use crate::error::ApiError;
use crate::extract::{Query, RawBody};
use crate::journeys::Catalog;
use crate::web::{self, Words};

#[derive(Clone)]
struct Phone {
    capture: Capture,
    catalog: crate::journeys::Live,
}

/// `/calls/new` and its form, for handlers.
pub fn router(capture: Capture, catalog: crate::journeys::Live, admits: Admits) -> Router {
    Router::new()
        .route("/calls/new", get(page))
        .route("/calls", post(log))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(Phone { capture, catalog })
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    /// `journey/stage`.
    place: Option<String>,
    lang: Option<String>,
    /// Set after a call was logged: `1`, or `2` when it broke the transfer standard.
    logged: Option<u8>,
}

#[derive(Template)]
#[template(path = "phone.html")]
struct Page {
    lang: &'static str,
    w: Words,
    user: String,
    other_lang: String,
    logged: Option<&'static str>,
    error: Option<String>,
    places: Vec<(String, String)>,
    place: String,
    event_id: Uuid,
    processes: Vec<(String, String)>,
    questions: Vec<(String, String)>,
}

/// What the page says above the form: a call logged, or why not.
struct Note {
    logged: Option<&'static str>,
    error: Option<String>,
}

/// Every stage a call may be about, as `journey/stage` and its name.
fn places(catalog: &Catalog, w: &Words) -> Vec<(String, String)> {
    catalog
        .journeys()
        .flat_map(|j| {
            j.stages
                .iter()
                .map(move |s| (format!("{}/{}", j.id, s.id), format!("{} — {}", w.text(&j.name), w.text(&s.name))))
        })
        .collect()
}

fn render(w: Words, user: &str, catalog: &Catalog, place: Option<&str>, note: Note) -> Result<Response, ApiError> {
    let places = places(catalog, &w);
    let chosen = place.filter(|p| places.iter().any(|(id, _)| id == p)).map(str::to_string);
    let place = chosen.or_else(|| places.first().map(|p| p.0.clone())).unwrap_or_default();
    let stage = place.split_once('/').and_then(|(j, s)| catalog.journey(j)?.stages.iter().find(|st| st.id == s));
    let questions = stage
        .and_then(|s| s.question_set())
        .map(|set| set.questions.iter().map(|q| (q.id.clone(), q.text(w.en).to_string())).collect())
        .unwrap_or_default();
    let status = if note.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = Page {
        lang: w.lang(),
        w,
        user: user.to_string(),
        other_lang: format!("?place={place}{}", if w.en { "" } else { "&lang=en" }),
        logged: note.logged,
        error: note.error,
        processes: catalog.register.processes.iter().map(|p| (p.id.clone(), w.text(&p.name).to_string())).collect(),
        places,
        place,
        event_id: Uuid::new_v4(),
        questions,
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("phone template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

async fn page(
    State(phone): State<Phone>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), time::UtcOffset::UTC);
    let logged = q.logged.map(|code| match code {
        2 => w.pick(
            "Звонок записан. Больше двух переадресаций — стандарт нарушен.",
            "Call logged. More than two transfers: the standard is broken.",
        ),
        _ => w.pick("Звонок записан.", "Call logged."),
    });
    render(w, &caller.name, &phone.catalog.get(), q.place.as_deref(), Note { logged, error: None })
}

/// A posted form: the call, the `journey/stage` it was at, and its language.
struct Posted {
    call: CallInput,
    place: String,
    en: bool,
}

/// The call a posted form describes; a field that does not read names itself.
fn posted(body: &[u8], now: SystemTime) -> Result<Posted, ApiError> {
    let (answers, fields) = form_answers(body)?;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let number = |name: &str, most: u32| -> Result<u32, ApiError> {
        let n = match field(name).unwrap_or_default().as_str() {
            "" => 0,
            text => text.parse().map_err(|_| ApiError::invalid(name, "a whole number, 0 or more"))?,
        };
        if n > most {
            return Err(ApiError::invalid(name, format!("at most {most}")));
        }
        Ok(n)
    };
    let place = field("place").unwrap_or_default();
    let (journey, stage) = place.split_once('/').ok_or_else(|| ApiError::invalid("place", "choose the stage"))?;
    let (wait, talk) = (number("wait_seconds", MAX_CALL_SECONDS)?, number("talk_seconds", MAX_CALL_SECONDS)?);
    let ago = number("ended_minutes_ago", (STAFF_MAX_AGE.as_secs() / 60) as u32)?;
    let started = now
        .checked_sub(Duration::from_secs(u64::from(wait) + u64::from(talk) + 60 * u64::from(ago)))
        .ok_or_else(|| ApiError::invalid("ended_minutes_ago", "too long ago"))?;
    let event_id = field("event_id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::invalid("event_id", "reload the page"))?;
    let call = CallInput {
        event_id,
        started_at: humantime::format_rfc3339_seconds(started).to_string(),
        wait_seconds: wait,
        talk_seconds: talk,
        transfers: u8::try_from(number("transfers", 255)?)
            .map_err(|_| ApiError::invalid("transfers", "at most 255"))?,
        resolved: field("resolved").is_some(),
        process: field("process").unwrap_or_default(),
        operator: field("operator").unwrap_or_default(),
        journey: Some(journey.to_string()),
        stage: Some(stage.to_string()),
        segment: None,
        rating: None,
        answers,
        case_ref: None,
    };
    Ok(Posted { call, place: place.clone(), en: field("lang").is_some_and(|l| l.starts_with("en")) })
}

async fn log(
    State(phone): State<Phone>,
    Extension(caller): Extension<Principal>,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    let RawBody(body) = body?;
    let catalog = phone.catalog.get();
    let posted = match posted(&body, phone.capture.now()) {
        Ok(posted) => posted,
        Err(e) => {
            let w = Words::new(None, time::UtcOffset::UTC);
            return render(w, &caller.name, &catalog, None, Note { logged: None, error: Some(e.public_message()) });
        }
    };
    let w = Words::new(Some(if posted.en { "en" } else { "ru" }), time::UtcOffset::UTC);
    let refuse = |message: String| {
        render(w, &caller.name, &catalog, Some(&posted.place), Note { logged: None, error: Some(message) })
    };
    if posted.call.operator.is_empty() {
        return refuse(w.pick("Укажите код оператора.", "Give the operator code.").to_string());
    }
    match log_call(&phone.capture, posted.call).await {
        Ok(accepted) => {
            let code = if accepted.breaks_transfer_standard { 2 } else { 1 };
            let lang = if posted.en { "&lang=en" } else { "" };
            Ok(Redirect::to(&format!("/calls/new?place={}&logged={code}{lang}", posted.place)).into_response())
        }
        Err(e @ (ApiError::Internal(_) | ApiError::Overloaded { .. })) => Err(e),
        Err(e) => refuse(e.public_message()),
    }
}
