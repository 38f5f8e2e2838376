//! The client's own history (order 2.9.5): a signed, expiring link the
//! ministry sends with a letter or a rating link. Its page lists that one
//! case's contacts — dates, channels, stages, letters' statuses, the
//! client's own ratings and comments, the ministry's answers — and nothing
//! else; no login. A forged, damaged or expired link answers 404 and says
//! only that it does not work.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;
use tower::util::MapResponseLayer;

use super::Dossiers;
use super::touches::{Contact, Reader, contacts};
use crate::domain::CaseKey;
use crate::domain::calendar::day_of;
use crate::domain::time::unix;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::signed::SignedTokens;
use crate::web;

/// Signs and opens history links.
pub struct HistoryLinks {
    tokens: SignedTokens,
    /// Where links point, without a trailing slash.
    base_url: String,
}

impl HistoryLinks {
    /// `secret` is `email.secret`; the key is derived for this kind of link only.
    pub fn new(secret: Option<&SecretString>, ttl: Duration, base_url: &str) -> HistoryLinks {
        let tokens = SignedTokens::new(secret, "touchpoint history link v1", ttl);
        HistoryLinks { tokens, base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// The link to case `key`'s history, valid from `now` for `case_refs.history_link_ttl`.
    pub fn url(&self, key: CaseKey, now: u32) -> String {
        format!("{}/history/{}", self.base_url, self.tokens.token(key.0, now))
    }

    pub fn case(&self, token: &str, now: u32) -> Option<CaseKey> {
        self.tokens.open(token, now).map(CaseKey)
    }
}

pub fn router(state: Dossiers) -> Router {
    Router::new()
        .route("/history/{token}", get(page))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

/// One line of the page, in the client's language.
struct Entry {
    day: String,
    channel: String,
    stage: String,
    what: String,
    comment: Option<String>,
    status: Option<&'static str>,
    answer: Option<String>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    lang: &'static str,
    en: bool,
    invalid: bool,
    entries: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

async fn page(
    State(state): State<Dossiers>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let en = q.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let lang = if en { "en" } else { "ru" };
    let now = unix((state.clock)());
    let Some(key) = state.history.case(&token, now) else {
        let html = HistoryPage { lang, en, invalid: true, entries: Vec::new() }.render().map_err(template)?;
        return Ok((StatusCode::NOT_FOUND, Html(html)).into_response());
    };
    let entries = contacts(&state.storage, key, Reader::Client).await?.iter().map(|c| entry(&state, c, en)).collect();
    let html = HistoryPage { lang, en, invalid: false, entries }.render().map_err(template)?;
    Ok(Html(html).into_response())
}

fn template(e: askama::Error) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("template failed: {e}"))
}

fn entry(state: &Dossiers, contact: &Contact, en: bool) -> Entry {
    let pick = |t: &crate::journeys::model::Text| if en { t.en.clone() } else { t.ru.clone() };
    let day = |at: u32| day_of(std::time::UNIX_EPOCH + Duration::from_secs(u64::from(at)), state.offset).to_string();
    let channel = state
        .catalog
        .get()
        .touchpoint(&contact.touchpoint)
        .map_or_else(|| contact.touchpoint.clone(), |t| pick(&t.name));
    let stage = state
        .catalog
        .get()
        .journey(&contact.journey)
        .and_then(|j| j.stages.iter().find(|s| s.id == contact.stage))
        .map_or_else(String::new, |s| pick(&s.name));
    let what = match (contact.kind.as_str(), contact.score, en) {
        ("letter", _, _) => letter(contact, en, day),
        ("call", Some(score), false) => format!("Звонок; ваша оценка: {score}"),
        ("call", Some(score), true) => format!("Call; your rating: {score}"),
        ("call", None, false) => "Звонок".into(),
        ("call", None, true) => "Call".into(),
        ("answers", _, false) => "Ваши ответы на вопросы".into(),
        ("answers", _, true) => "Your answers to the questions".into(),
        ("timing", _, false) => "Визит или действие на этом этапе".into(),
        ("timing", _, true) => "A visit or step at this stage".into(),
        (_, Some(score), false) => format!("Ваша оценка: {score}"),
        (_, Some(score), true) => format!("Your rating: {score}"),
        (_, None, false) => "Оценка".into(),
        (_, None, true) => "Rating".into(),
    };
    let what = match contact.answers_text(&state.catalog.get(), en) {
        Some(answers) => format!("{what}: {answers}"),
        None => what,
    };
    Entry {
        day: day(contact.at),
        channel,
        stage,
        what,
        comment: contact.comment.clone(),
        status: contact.case_status.map(|s| crate::follow::status_text(s, contact.case_answer.is_some(), en)),
        answer: contact.case_answer.clone(),
    }
}

fn letter(contact: &Contact, en: bool, day: impl Fn(u32) -> String) -> String {
    let mut text = if en { "Letter received".to_string() } else { "Письмо получено".to_string() };
    if let Some(at) = contact.acknowledged_at {
        text += &if en {
            format!("; acknowledged {}", day(at))
        } else {
            format!("; регистрация подтверждена {}", day(at))
        };
    }
    match (contact.answered_at, en) {
        (Some(at), true) => text += &format!("; answered {}", day(at)),
        (Some(at), false) => text += &format!("; ответ дан {}", day(at)),
        (None, true) => text += "; answer pending",
        (None, false) => text += "; ответ готовится",
    }
    text
}
