//! The follow page: ru (default) or en, plain HTML, fit for a 360 px screen.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower::util::MapResponseLayer;
use uuid::Uuid;

use super::Follow;
use crate::cases::status::{State as CaseState, Status};
use crate::domain::time::unix;
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};
use crate::storage::rows::CaseRow;
use crate::web;

pub fn router(follow: Follow) -> Router {
    Router::new()
        .route("/follow/{token}", get(page))
        .route("/follow/{token}/rating", post(rate))
        .route("/follow/{token}/notice", post(notice))
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(follow)
}

#[derive(Template)]
#[template(path = "follow.html")]
struct FollowPage<'a> {
    lang: &'a str,
    en: bool,
    /// Not a link of ours: the page says only that.
    invalid: bool,
    token: &'a str,
    /// The case is not in ClickHouse yet (its event is still on its way).
    registering: bool,
    status: &'static str,
    answer_by: String,
    answer: Option<String>,
    rating: Option<u8>,
    can_rate: bool,
    can_notice: bool,
    message: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    /// Set after a form: what it did (`rated`, `noted`).
    done: Option<String>,
}

fn english(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| l.starts_with("en"))
}

/// Not a link of ours (forged, damaged, expired): 404, and nothing more said.
fn not_a_link() -> ApiError {
    ApiError::NotFound { what: "link", field: "token", id: String::new() }
}

/// The case a token names, with its state; `None` while it is being stored.
async fn lookup(follow: &Follow, token: &str) -> Result<(Uuid, Option<(CaseRow, CaseState)>), ApiError> {
    let now = unix((follow.clock)());
    let (id, opened_at) = follow.links.case(token, now).ok_or_else(not_a_link)?;
    let internal = |e: crate::storage::StorageError| ApiError::Internal(e.into());
    let Some(case) = follow.book.case(id).await.map_err(internal)? else { return Ok((id, None)) };
    if case.opened_at != opened_at {
        // A link made for another event that carried this case's id.
        return Err(not_a_link());
    }
    let log = follow.book.logs(&[id]).await.map_err(internal)?.remove(&id).unwrap_or_default();
    Ok((id, Some((case, CaseState::replay(&log)))))
}

/// The status of a client's case as the client reads it.
pub(crate) fn status_text(status: Status, answered: bool, en: bool) -> &'static str {
    match (status, answered, en) {
        (Status::New, _, false) => "Обращение зарегистрировано",
        (Status::New, _, true) => "Your feedback is registered",
        (Status::Acknowledged | Status::InProgress, _, false) => "Обращение рассматривается",
        (Status::Acknowledged | Status::InProgress, _, true) => "Your feedback is being looked into",
        (_, true, false) => "Ответ готов",
        (_, true, true) => "The answer is ready",
        (_, false, false) => "Обращение закрыто",
        (_, false, true) => "The case is closed",
    }
}

async fn render_page(
    follow: &Follow,
    token: &str,
    en: bool,
    message: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (id, found) = lookup(follow, token).await?;
    let rating = match &found {
        Some(_) => follow.store.rating(id).await.map_err(|e| ApiError::Internal(e.into()))?,
        None => None,
    };
    let offset = follow.offset;
    let page = match &found {
        None => FollowPage {
            lang: if en { "en" } else { "ru" },
            en,
            invalid: false,
            token,
            registering: true,
            status: if en {
                "Your feedback is being registered"
            } else {
                "Обращение регистрируется"
            },
            answer_by: String::new(),
            answer: None,
            rating: None,
            can_rate: false,
            can_notice: false,
            message,
        },
        Some((case, state)) => FollowPage {
            lang: if en { "en" } else { "ru" },
            en,
            invalid: false,
            token,
            registering: false,
            status: status_text(state.status(), state.answer.is_some(), en),
            answer_by: day(case.answer_by, offset),
            answer: state.answer.clone(),
            rating,
            can_rate: state.answer.is_some(),
            can_notice: state.answer.is_none() && state.status() != Status::Closed,
            message,
        },
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// The last day a deadline includes, local.
fn day(deadline: u32, offset: time::UtcOffset) -> String {
    crate::domain::calendar::day_of(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(deadline.saturating_sub(1))),
        offset,
    )
    .to_string()
}

async fn page(
    State(follow): State<Follow>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let en = english(q.lang.as_deref());
    let message = match (q.done.as_deref(), en) {
        (Some("rated"), false) => Some("Спасибо за оценку ответа!"),
        (Some("rated"), true) => Some("Thank you for rating the answer!"),
        (Some("noted"), false) => Some("Мы сообщим на этот адрес, когда ответ будет готов."),
        (Some("noted"), true) => Some("We will write to this address when the answer is ready."),
        _ => None,
    };
    match render_page(&follow, &token, en, message, StatusCode::OK).await {
        Err(ApiError::NotFound { .. }) => invalid_page(en),
        other => other,
    }
}

/// A forged, damaged or expired link: 404 and a page that says only that.
fn invalid_page(en: bool) -> Result<Response, ApiError> {
    let page = FollowPage {
        lang: if en { "en" } else { "ru" },
        en,
        invalid: true,
        token: "",
        registering: false,
        status: "",
        answer_by: String::new(),
        answer: None,
        rating: None,
        can_rate: false,
        can_notice: false,
        message: None,
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((StatusCode::NOT_FOUND, Html(html)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatingForm {
    score: u8,
    lang: Option<String>,
}

/// The client's rating of the answer (csat 1–5); a second replaces the first.
async fn rate(
    State(follow): State<Follow>,
    Path(token): Path<String>,
    JsonOrForm { value: form, .. }: JsonOrForm<RatingForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    let (_, found) = lookup(&follow, &token).await?;
    let Some((case, _)) = found.filter(|(_, s)| s.answer.is_some()) else {
        let why = if en {
            "There is no answer to rate yet."
        } else {
            "Ответа, который можно оценить, ещё нет."
        };
        return render_page(&follow, &token, en, Some(why), StatusCode::CONFLICT).await;
    };
    let score = crate::domain::Scale::Csat.check(form.score, "score")?;
    let now = unix((follow.clock)());
    follow.store.rate(&case, score, now).await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Redirect::to(&format!("/follow/{token}?done=rated{}", if en { "&lang=en" } else { "" })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeForm {
    email: String,
    /// The box "I agree that this address is kept to tell me of the answer".
    consent: Option<String>,
    lang: Option<String>,
}

/// An address for the notice of the answer, kept only with consent.
async fn notice(
    State(follow): State<Follow>,
    Path(token): Path<String>,
    JsonOrForm { value: form, .. }: JsonOrForm<NoticeForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    let (id, found) = lookup(&follow, &token).await?;
    if form.consent.as_deref().is_none_or(str::is_empty) {
        let why = if en {
            "Tick the consent box to leave an address."
        } else {
            "Чтобы оставить адрес, отметьте согласие."
        };
        return render_page(&follow, &token, en, Some(why), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let email = crate::domain::text::clean(form.email);
    let email = email.trim();
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
        let why = if en {
            "This is not an e-mail address."
        } else {
            "Это не адрес электронной почты."
        };
        return render_page(&follow, &token, en, Some(why), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if found.is_none_or(|(_, s)| s.answer.is_some() || s.status() == Status::Closed) {
        let why = if en { "No notice is needed now." } else { "Уведомление сейчас не нужно." };
        return render_page(&follow, &token, en, Some(why), StatusCode::CONFLICT).await;
    }
    let now = unix((follow.clock)());
    follow.store.remember(id, email, now).await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Redirect::to(&format!("/follow/{token}?done=noted{}", if en { "&lang=en" } else { "" })).into_response())
}
