//! Editors' and approvers' page (ru/en, plain HTML forms, no scripts):
//! every change with its state; an editor drafts a change with a form per
//! kind of 5.3 (and a stage's touchpoints, deadline and unit); an approver
//! includes or turns down each draft. Each form answers 303 back to the page
//! with what it did, or the page again with why not.

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

use super::change::Change;
use super::desk::Desk;
use super::store::ChangeState;
use crate::accounts::auth::{self, Admits, Principal};
use crate::domain::Role;
use crate::domain::wire_name;
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};
use crate::journeys::model::{Kind, Need, Touchpoint};
use crate::web::{self, Words};

/// `/register/changes` for editors and approvers, its forms for each.
pub fn router(desk: Desk, reading: Admits, drafting: Admits, deciding: Admits) -> Router {
    let read = Router::new()
        .route("/register/changes", get(page))
        .layer(middleware::from_fn_with_state(reading, auth::require));
    let draft = Router::new()
        .route("/register/changes", post(draft))
        .layer(middleware::from_fn_with_state(drafting, auth::require));
    let decide = Router::new()
        .route("/register/changes/{id}/approve", post(approve))
        .route("/register/changes/{id}/reject", post(reject))
        .layer(middleware::from_fn_with_state(deciding, auth::require));
    read.merge(draft)
        .merge(decide)
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(desk)
}

const NEEDS: [Need; 9] = [
    Need::GetInformation,
    Need::GetConsultation,
    Need::GetDocumentForms,
    Need::SubmitDocuments,
    Need::GetResult,
    Need::PresentForInspection,
    Need::GiveFeedback,
    Need::GetFeedbackOutcome,
    Need::Other,
];

/// One change as the page lists it.
struct Line {
    id: Uuid,
    state: String,
    draft: bool,
    what: String,
    reason: String,
    author: String,
    created: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "register_changes.html")]
struct ChangesPage<'a> {
    lang: &'static str,
    w: Words,
    user: &'a str,
    editor: bool,
    approver: bool,
    message: Option<String>,
    lines: Vec<Line>,
    /// Touchpoints in force: id and name.
    touchpoints: Vec<(String, String)>,
    /// Every stage: `journey/stage` and its name.
    stages: Vec<(String, String)>,
    /// Need ids and their words.
    needs: Vec<(String, &'static str)>,
    channels: Vec<String>,
    processes: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
    done: Option<String>,
}

async fn page(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let w = Words::new(q.lang.as_deref(), desk.offset);
    let message = q.done.as_deref().map(|d| done_text(d, &w));
    render(&desk, &caller, w, message, StatusCode::OK).await
}

fn done_text(done: &str, w: &Words) -> String {
    match done {
        "drafted" => w.pick("Черновик изменения сохранён.", "The draft is saved."),
        "approved" => {
            w.pick("Изменение включено в перечень: новая версия действует.", "Included: the new version is in force.")
        }
        "rejected" => w.pick("Изменение отклонено.", "The change is turned down."),
        _ => "",
    }
    .to_string()
}

async fn render(
    desk: &Desk,
    caller: &Principal,
    w: Words,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let catalog = desk.live.get();
    let mut lines = Vec::new();
    let in_force = desk.store.latest().await?.map(|(_, docs)| docs);
    for (row, state) in desk.store.changes().await? {
        let draft = state == ChangeState::Draft;
        let change = row.change()?;
        let mut what = summary(&change, &w);
        if let (true, Some(docs)) = (draft, &in_force) {
            // The approver reads each field the draft changes, old → new.
            for d in desk.preview(&change, docs).iter().filter(|d| d.how == "changed") {
                let fields: Vec<String> = d.changes.iter().map(|c| c.line()).collect();
                what = format!("{what}. {}", fields.join("; "));
            }
        }
        let state = match state {
            ChangeState::Approved { version: v, .. } => {
                format!("{} ({} {v})", w.pick("включено", "included"), w.pick("версия", "version"))
            }
            ChangeState::Rejected => w.pick("отклонено", "turned down").to_string(),
            ChangeState::Withdrawn => w.pick("отозвано", "withdrawn").to_string(),
            ChangeState::Draft => w.pick("черновик", "draft").to_string(),
        };
        let decision =
            if row.decision.is_empty() { String::new() } else { format!("{}: {}", row.decided_by, row.decision) };
        lines.push(Line {
            id: row.change_id,
            state,
            draft,
            what,
            reason: row.reason,
            author: row.author,
            created: w.time(row.created_at),
            decision,
        });
    }
    let in_force = |t: &&Touchpoint| t.excluded_since.is_none();
    let page = ChangesPage {
        lang: w.lang(),
        w,
        user: &caller.name,
        editor: caller.grant.role == Role::Editor,
        approver: caller.grant.role == Role::Approver,
        message,
        lines,
        touchpoints: catalog
            .register
            .touchpoints
            .iter()
            .filter(in_force)
            .map(|t| (t.id.clone(), w.text(&t.name).to_string()))
            .collect(),
        stages: catalog
            .journeys()
            .flat_map(|j| {
                j.stages
                    .iter()
                    .map(move |s| (format!("{}/{}", j.id, s.id), format!("{}: {}", w.text(&j.name), w.text(&s.name))))
            })
            .collect(),
        needs: NEEDS.iter().map(|n| (wire_name(n), if w.en { n.words().1 } else { n.words().0 })).collect(),
        channels: catalog
            .register
            .touchpoints
            .iter()
            .map(|t| t.channel.name())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        processes: catalog.register.processes.iter().map(|p| (p.id.clone(), w.text(&p.name).to_string())).collect(),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// One line saying what a change does.
fn summary(change: &Change, w: &Words) -> String {
    let clause = change.clause().map_or_else(String::new, |c| format!(" ({} {c})", w.pick("п.", "cl.")));
    let text = match change {
        Change::AddTouchpoint { touchpoint } => {
            format!("{} «{}»", w.pick("новая точка", "new touchpoint"), touchpoint.id)
        }
        Change::ChangeKind { touchpoint, to } => {
            format!("«{touchpoint}»: {} {}", w.pick("вид —", "kind:"), if w.en { to.words().1 } else { to.words().0 })
        }
        Change::ChangeNeeds { touchpoint, needs } => {
            format!(
                "«{touchpoint}»: {} {}",
                w.pick("потребности —", "needs:"),
                needs.iter().map(wire_name).collect::<Vec<_>>().join(", ")
            )
        }
        Change::ExcludeTouchpoint { touchpoint } => format!("{} «{touchpoint}»", w.pick("исключить", "exclude")),
        Change::EditStage { journey, stage } => {
            format!("{} «{journey}/{}»", w.pick("изменить этап", "edit stage"), stage.id)
        }
    };
    text + &clause
}

/// The drafting forms: one per kind, each sending its own fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftForm {
    kind: String,
    reason: String,
    lang: Option<String>,
    #[serde(default)]
    touchpoint: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name_ru: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    processes: Vec<String>,
    /// `journey/stage`.
    #[serde(default)]
    stage: String,
    #[serde(default)]
    touchpoints: Vec<String>,
    #[serde(default)]
    legal_deadline_days: String,
    #[serde(default)]
    unit: String,
}

/// A value of an enum from its name in a form.
fn parse<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| ApiError::invalid(field, format!("{text:?} is not one of the choices")))
}

impl DraftForm {
    fn change(self, desk: &Desk) -> Result<Change, ApiError> {
        let needs = || self.needs.iter().map(|n| parse::<Need>("needs", n)).collect::<Result<Vec<_>, _>>();
        Ok(match self.kind.as_str() {
            "exclude_touchpoint" => Change::ExcludeTouchpoint { touchpoint: self.touchpoint.clone() },
            "change_kind" => {
                Change::ChangeKind { touchpoint: self.touchpoint.clone(), to: parse::<Kind>("to", &self.to)? }
            }
            "change_needs" => Change::ChangeNeeds { touchpoint: self.touchpoint.clone(), needs: needs()? },
            "add_touchpoint" => Change::AddTouchpoint {
                touchpoint: Box::new(Touchpoint {
                    id: self.id.trim().to_string(),
                    name: crate::journeys::model::Text {
                        ru: self.name_ru.trim().into(),
                        en: self.name_en.trim().into(),
                    },
                    channel: parse("channel", &self.channel)?,
                    kind: parse("to", &self.to)?,
                    processes: self.processes.clone(),
                    needs: needs()?,
                    excluded_since: None,
                }),
            },
            "edit_stage" => {
                let (journey, stage) =
                    self.stage.split_once('/').ok_or_else(|| ApiError::invalid("stage", "choose a stage"))?;
                let catalog = desk.live.get();
                let current = catalog
                    .journey(journey)
                    .and_then(|j| j.stages.iter().find(|s| s.id == stage))
                    .ok_or_else(|| ApiError::invalid("stage", "choose a stage"))?;
                let mut edited = current.clone();
                edited.touchpoints = self.touchpoints.clone();
                edited.legal_deadline_days = match self.legal_deadline_days.trim() {
                    "" => None,
                    days => Some(
                        days.parse()
                            .map_err(|_| ApiError::invalid("legal_deadline_days", "a whole number of working days"))?,
                    ),
                };
                edited.unit = Some(self.unit.trim().to_string()).filter(|u| !u.is_empty());
                Change::EditStage { journey: journey.to_string(), stage: Box::new(edited) }
            }
            _ => return Err(ApiError::invalid("kind", "one of the forms' kinds")),
        })
    }
}

async fn draft(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    JsonOrForm { value: form, .. }: JsonOrForm<DraftForm>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), desk.offset);
    let reason = form.reason.clone();
    let drafted = match form.change(&desk) {
        Ok(change) => desk.draft(change, reason, &caller.name, &caller.grant.units).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&desk, &caller, w, drafted, "drafted").await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionForm {
    lang: Option<String>,
    #[serde(default)]
    decision: String,
}

async fn approve(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    JsonOrForm { value: form, .. }: JsonOrForm<DecisionForm>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), desk.offset);
    let approved = desk.approve(id, &caller.name).await.map(|_| ());
    answer(&desk, &caller, w, approved, "approved").await
}

async fn reject(
    State(desk): State<Desk>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<Uuid>,
    JsonOrForm { value: form, .. }: JsonOrForm<DecisionForm>,
) -> Result<Response, ApiError> {
    let w = Words::new(form.lang.as_deref(), desk.offset);
    let rejected = desk.reject(id, &caller.name, form.decision).await;
    answer(&desk, &caller, w, rejected, "rejected").await
}

/// 303 back to the page saying what was done, or the page with why not.
async fn answer(
    desk: &Desk,
    caller: &Principal,
    w: Words,
    outcome: Result<(), ApiError>,
    done: &str,
) -> Result<Response, ApiError> {
    let lang = if w.en { "&lang=en" } else { "" };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/register/changes?done={done}{lang}")).into_response()),
        Err(e @ (ApiError::Invalid { .. } | ApiError::Conflict { .. } | ApiError::NotFound { .. })) => {
            let status = e.status();
            let message = match &e {
                ApiError::Invalid { field, message } => format!("{field}: {message}"),
                other => other.to_string(),
            };
            render(desk, caller, w, Some(message), status).await
        }
        Err(e) => Err(e),
    }
}
