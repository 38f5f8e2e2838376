//! The case queue as pages for handlers (ru/en, plain HTML forms, no
//! scripts): their units' cases by deadline with filters, one case with what
//! opened it, its log and the next steps, and closing many as spam at once.
//! Each form carries a change id made when the page was drawn, so sending a
//! form twice applies it once.

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

use super::desk::{Ask, Desk};
use super::queue::Context;
use super::status::{Action, Resolution, State as CaseState, Status};
use crate::accounts::auth::{self, Admits, Principal};
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};
use crate::journeys::Catalog;
use crate::storage::rows::CaseRow;
use crate::web;

mod words;
use words::{CaseWords, Words};

/// Cases per page.
const PAGE: u32 = 50;

#[derive(Clone)]
struct Pages {
    desk: Desk,
    catalog: crate::journeys::Live,
    /// The ministry's time zone (`cases.utc_offset`).
    offset: time::UtcOffset,
}

/// `/cases`, `/cases/{id}` and their forms, for handlers.
pub fn router(desk: Desk, catalog: crate::journeys::Live, offset: time::UtcOffset, admits: Admits) -> Router {
    Router::new()
        .route("/cases", get(queue))
        .route("/cases/spam", post(spam))
        .route("/cases/{id}", get(case))
        .route("/cases/{id}/changes", post(change))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(Pages { desk, catalog, offset })
}

fn render(status: StatusCode, template: impl Template) -> Result<Response, ApiError> {
    let html = template.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    status: Option<String>,
    unit: Option<String>,
    stage: Option<String>,
    overdue: Option<String>,
    #[serde(default)]
    page: u32,
    lang: Option<String>,
    /// Set after a bulk action: how many cases it closed.
    closed: Option<u32>,
}

/// One row of the queue.
struct Row {
    id: Uuid,
    deadline: String,
    status: &'static str,
    overdue: bool,
    place: String,
    reason: String,
    rating: String,
    comment: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "cases_queue.html")]
struct QueuePage<'a> {
    lang: &'a str,
    w: Words,
    user: &'a str,
    rows: Vec<Row>,
    statuses: Vec<(&'static str, &'static str)>,
    units: &'a [String],
    stages: Vec<(String, String)>,
    status: String,
    unit: String,
    stage: String,
    overdue: bool,
    closed: Option<u32>,
    prev: Option<String>,
    next: Option<String>,
    other_lang: String,
    batch: Uuid,
}

fn status_of(name: &str) -> Result<Option<Status>, ApiError> {
    match name {
        "" => Ok(None),
        other => {
            Status::of(other).map(Some).ok_or_else(|| ApiError::invalid("status", format!("unknown status {other:?}")))
        }
    }
}

async fn queue(
    State(pages): State<Pages>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), pages.offset);
    // No status: the open cases; `all`: closed ones too.
    let chosen = q.status.as_deref().unwrap_or("");
    let status = if chosen == "all" { None } else { status_of(chosen)? };
    let unit = q.unit.clone().filter(|u| !u.is_empty());
    let overdue = q.overdue.as_deref().is_some_and(|v| !v.is_empty());
    let ask = Ask {
        status,
        open_only: chosen.is_empty(),
        stage: q.stage.clone(),
        unit: unit.clone(),
        overdue,
        limit: PAGE + 1,
        offset: q.page.saturating_mul(PAGE),
    };
    let mut cases = pages.desk.queue(&caller, ask).await?;
    let more = cases.len() > PAGE as usize;
    cases.truncate(PAGE as usize);
    let contexts = pages.desk.contexts(&cases.iter().map(|(c, _)| c).collect::<Vec<_>>()).await?;
    let now = pages.desk.now();
    let rows = cases
        .iter()
        .map(|(case, state)| {
            let context = contexts.iter().find(|(id, _)| *id == case.event_id).map(|(_, c)| c);
            row(&pages.catalog.get(), &w, case, state, context, now)
        })
        .collect();
    let link = |page: u32, en: bool| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("status", &q.status), ("unit", &q.unit), ("stage", &q.stage), ("overdue", &q.overdue)] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        if page > 0 {
            s.append_pair("page", &page.to_string());
        }
        if en {
            s.append_pair("lang", "en");
        }
        format!("/cases?{}", s.finish())
    };
    let page = QueuePage {
        lang: w.lang(),
        user: &caller.name,
        rows,
        statuses: Status::ALL.into_iter().map(|s| (s.name(), w.status(s))).collect(),
        units: &caller.grant.units,
        stages: stages(&pages.catalog.get(), &caller.grant.units, &w),
        status: q.status.clone().unwrap_or_default(),
        unit: unit.unwrap_or_default(),
        stage: q.stage.clone().unwrap_or_default(),
        overdue,
        closed: q.closed,
        prev: (q.page > 0).then(|| link(q.page - 1, w.en)),
        next: more.then(|| link(q.page + 1, w.en)),
        other_lang: link(q.page, !w.en),
        batch: Uuid::new_v4(),
        w,
    };
    render(StatusCode::OK, page)
}

/// The stages whose cases go to one of `units`, by id with their names.
fn stages(catalog: &Catalog, units: &[String], w: &Words) -> Vec<(String, String)> {
    let mut stages: Vec<(String, String)> = Vec::new();
    for journey in catalog.journeys() {
        for stage in &journey.stages {
            let unit = stage.unit.as_ref().or(journey.cases.unit.as_ref());
            if unit.is_some_and(|u| units.contains(u)) && !stages.iter().any(|(id, _)| *id == stage.id) {
                stages.push((stage.id.clone(), w.text(&stage.name).to_string()));
            }
        }
    }
    stages
}

/// Journey (with `journey`), stage and touchpoint by name in the page's language.
fn place(catalog: &Catalog, w: &Words, case: &CaseRow, journey: bool) -> String {
    let found = catalog.journey(&case.journey);
    let stage = found.and_then(|j| j.stages.iter().find(|s| s.id == case.stage));
    let touchpoint = catalog.touchpoint(&case.touchpoint);
    let short = format!(
        "{} / {}",
        stage.map_or(case.stage.as_str(), |s| w.text(&s.name)),
        touchpoint.map_or(case.touchpoint.as_str(), |t| w.text(&t.name)),
    );
    if !journey {
        return short;
    }
    format!("{} / {short}", found.map_or(case.journey.as_str(), |j| w.text(&j.name)))
}

fn row(catalog: &Catalog, w: &Words, case: &CaseRow, state: &CaseState, context: Option<&Context>, now: u32) -> Row {
    Row {
        id: case.event_id,
        deadline: w.deadline(if state.acknowledged_at.is_none() { case.acknowledge_by } else { case.answer_by }),
        status: w.status(state.status()),
        overdue: state.overdue(case.acknowledge_by, case.answer_by, now),
        place: place(catalog, w, case, false),
        reason: w.reason(&case.reason),
        rating: context.map_or_else(String::new, |c| w.rating(c)),
        comment: context.map_or_else(String::new, |c| c.comment.clone()),
        open: state.status() != Status::Closed,
    }
}

#[derive(Template)]
#[template(path = "cases_case.html")]
struct CasePage<'a> {
    lang: &'a str,
    w: Words,
    user: &'a str,
    id: Uuid,
    place: String,
    reason: String,
    opened: String,
    acknowledge_by: String,
    answer_by: String,
    status: &'static str,
    overdue: bool,
    context: Option<Context>,
    rating: String,
    /// The context's channel and tags as a person reads them.
    channel: String,
    tags: String,
    log: Vec<(String, String, String, String)>,
    answer: Option<String>,
    can: Can,
    resolutions: Vec<(&'static str, &'static str)>,
    change_id: Uuid,
    error: Option<String>,
    other_lang: String,
}

/// A channel's name in the page's language; the stored name if unknown.
fn channel_words(name: &str, w: &Words) -> String {
    match serde_json::from_value::<crate::domain::Channel>(serde_json::Value::String(name.to_string())) {
        Ok(channel) => w.pick(channel.words().0, channel.words().1).to_string(),
        Err(_) => name.to_string(),
    }
}

/// The names of a rating's tags, as its stage offers them.
fn tag_names(catalog: &Catalog, case: &CaseRow, tags: &[String], w: &Words) -> String {
    let stage = catalog.journey(&case.journey).and_then(|j| j.stages.iter().find(|s| s.id == case.stage));
    let name = |id: &String| {
        stage.and_then(|s| s.tags.iter().find(|t| &t.id == id)).map_or_else(|| id.clone(), |t| w.text(&t.name).into())
    };
    tags.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// The steps the case can take now.
struct Can {
    acknowledge: bool,
    start: bool,
    answer: bool,
    close: bool,
    spam: bool,
}

#[derive(Debug, Default, Deserialize)]
struct CaseQuery {
    lang: Option<String>,
}

async fn case(
    State(pages): State<Pages>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, ApiError> {
    case_page(&pages, &caller, id, Words::new(q.lang.as_deref(), pages.offset), None).await
}

/// The case page; `refused` is why a change just sent was not applied, with its status.
async fn case_page(
    pages: &Pages,
    caller: &Principal,
    id: Uuid,
    w: Words,
    refused: Option<(StatusCode, String)>,
) -> Result<Response, ApiError> {
    let (case, log) = pages.desk.mine(caller, id).await?;
    let state = CaseState::replay(&log);
    let context = pages.desk.contexts(&[&case]).await?.pop().map(|(_, c)| c);
    let status = state.status();
    let open = status != Status::Closed;
    let page = CasePage {
        lang: w.lang(),
        user: &caller.name,
        id,
        place: place(&pages.catalog.get(), &w, &case, true),
        reason: w.reason(&case.reason),
        opened: w.time(case.opened_at),
        acknowledge_by: w.deadline(case.acknowledge_by),
        answer_by: w.deadline(case.answer_by),
        status: w.status(status),
        overdue: state.overdue(case.acknowledge_by, case.answer_by, pages.desk.now()),
        rating: context.as_ref().map_or_else(String::new, |c| w.rating(c)),
        channel: context.as_ref().map_or_else(String::new, |c| channel_words(&c.channel, &w)),
        tags: context.as_ref().map_or_else(String::new, |c| tag_names(&pages.catalog.get(), &case, &c.tags, &w)),
        context,
        log: log.iter().map(|c| (w.time(c.at), c.by.clone(), w.action(&c.action), answer_text(&c.action))).collect(),
        answer: state.answer.clone(),
        can: Can {
            acknowledge: status == Status::New,
            start: status < Status::InProgress,
            answer: open && status != Status::Answered,
            close: status == Status::Answered,
            spam: open,
        },
        resolutions: [
            Resolution::Resolved,
            Resolution::Explained,
            Resolution::PassedToLab,
            Resolution::NothingPossible,
        ]
        .into_iter()
        .map(|r| (r.name(), w.resolution(r)))
        .collect(),
        change_id: Uuid::new_v4(),
        other_lang: format!("/cases/{id}{}", if w.en { "" } else { "?lang=en" }),
        error: refused.as_ref().map(|(_, m)| m.clone()),
        w,
    };
    render(refused.map_or(StatusCode::OK, |(s, _)| s), page)
}

fn answer_text(action: &Action) -> String {
    match action {
        Action::Answer { text } => text.clone(),
        _ => String::new(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeForm {
    change_id: Uuid,
    action: String,
    text: Option<String>,
    resolution: Option<String>,
    lang: Option<String>,
}

impl ChangeForm {
    fn action(&self) -> Result<Action, ApiError> {
        let resolution = self.resolution.as_deref().and_then(Resolution::of);
        let text = (self.action == "answer").then(|| self.text.clone()).flatten();
        Ok(Action::parse(&self.action, text, resolution)?)
    }
}

/// A step from the case page: back to the page (303) when applied, else the
/// page again with the reason (409 closed, 422 not now).
async fn change(
    State(pages): State<Pages>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    JsonOrForm { value: form, .. }: JsonOrForm<ChangeForm>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), pages.offset);
    let applied = match form.action() {
        Ok(action) => pages.desk.apply(&caller, id, form.change_id, action).await.map(drop),
        Err(e) => Err(e),
    };
    match applied {
        Ok(()) => Ok(Redirect::to(&format!("/cases/{id}{}", if w.en { "?lang=en" } else { "" })).into_response()),
        Err(ApiError::Conflict { .. }) => {
            case_page(&pages, &caller, id, w, Some((StatusCode::CONFLICT, w.refused_closed().into()))).await
        }
        Err(ApiError::Invalid { message, .. }) => {
            case_page(&pages, &caller, id, w, Some((StatusCode::UNPROCESSABLE_ENTITY, message))).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpamForm {
    /// Made when the queue page was drawn: with a case id, the id of that case's change.
    batch: Uuid,
    #[serde(default)]
    id: Vec<Uuid>,
    lang: Option<String>,
}

/// Closes every chosen open case as spam, all or none (`Desk::close_as_spam`).
async fn spam(
    State(pages): State<Pages>,
    Extension(caller): Extension<Principal>,
    JsonOrForm { value: form, .. }: JsonOrForm<SpamForm>,
) -> Result<Response, ApiError> {
    let closed = pages.desk.close_as_spam(&caller, &form.id, form.batch).await?;
    let en = Words::new(form.lang.as_deref(), pages.offset).en;
    Ok(Redirect::to(&format!("/cases?closed={closed}{}", if en { "&lang=en" } else { "" })).into_response())
}
