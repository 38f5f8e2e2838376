//! The admin page and its forms: each form answers 303 back to the page
//! with what it did, or the page again with why not (422, or 409 for an
//! admin about to lock themselves out). A new token is shown once, on the
//! page that made it.

use askama::Template;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Admin;
use crate::accounts::auth::{self, AccountError, Grant, Principal};
use crate::accounts::directory::{self, Account, Token};
use crate::domain::Role;
use crate::error::ApiError;
use crate::extract::{JsonOrForm, Path, Query};

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage<'a> {
    lang: &'a str,
    en: bool,
    user: &'a str,
    accounts: Vec<Account>,
    tokens: Vec<Token>,
    roles: [&'static str; 5],
    units: Vec<Unit>,
    rules: Vec<(String, String)>,
    message: Option<String>,
    new_token: Option<(String, String)>,
    /// Register versions not yet recorded as on the ministry's site (5.4).
    unpublished: Vec<Unpublished>,
}

/// A register version waiting to be published, by its deadline.
struct Unpublished {
    version: u32,
    approved: String,
    publish_by: String,
    overdue: bool,
}

/// A unit named by the journey files, its stages and its addresses.
struct Unit {
    name: String,
    stages: Vec<String>,
    addresses: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    done: Option<String>,
}

fn english(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| l.starts_with("en"))
}

fn internal(e: AccountError) -> ApiError {
    ApiError::Internal(e.into())
}

fn units(admin: &Admin) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut add = |name: &String, place: String| match units.iter_mut().find(|u| u.name == *name) {
        Some(unit) => unit.stages.push(place),
        None => units.push(Unit {
            name: name.clone(),
            stages: vec![place],
            addresses: admin.addresses.get(name).map(|a| a.join(", ")).unwrap_or_default(),
        }),
    };
    for journey in admin.catalog.get().journeys() {
        for stage in &journey.stages {
            if let Some(name) = stage.unit.as_ref().or(journey.cases.unit.as_ref()) {
                add(name, format!("{} / {}", journey.id, stage.id));
            }
        }
    }
    if let Some(name) = &admin.calls_unit {
        add(name, "calls without a stage (cases.calls_unit)".into());
    }
    units
}

fn rules(admin: &Admin) -> Vec<(String, String)> {
    admin
        .catalog
        .get()
        .journeys()
        .map(|j| {
            let r = &j.cases;
            let text = format!(
                "csat ≤ {}, nps ≤ {}, ces ≤ {}, thumbs down: {}, transfers > {}, tags: [{}]; \
                 acknowledge {} / answer {} / letters {} working days",
                r.csat_at_most,
                r.nps_at_most,
                r.ces_at_most,
                r.thumbs_down,
                r.transfers_over,
                r.tags.join(", "),
                r.acknowledge_within,
                r.answer_within,
                r.letter_acknowledge_within
            );
            (j.id.clone(), text)
        })
        .collect()
}

async fn render(
    admin: &Admin,
    caller: &Principal,
    en: bool,
    message: Option<String>,
    new_token: Option<(String, String)>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let page = AdminPage {
        lang: if en { "en" } else { "ru" },
        en,
        user: &caller.name,
        accounts: directory::accounts(&admin.storage).await.map_err(internal)?,
        tokens: directory::tokens(&admin.storage).await.map_err(internal)?,
        roles: Role::ALL.map(Role::as_str),
        units: units(admin),
        rules: rules(admin),
        message,
        new_token,
        unpublished: unpublished(admin).await?,
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// Versions without a publication, the nearest deadline first.
async fn unpublished(admin: &Admin) -> Result<Vec<Unpublished>, ApiError> {
    let now = crate::domain::time::unix((admin.clock)());
    let words = crate::web::Words::new(None, admin.offset);
    let mut waiting: Vec<Unpublished> = admin
        .register
        .versions()
        .await?
        .into_iter()
        .filter(|v| v.published_at == 0)
        .map(|v| Unpublished {
            version: v.version,
            approved: words.time(v.approved_at),
            publish_by: words.deadline(v.publish_by),
            overdue: v.publication(now) == "overdue",
        })
        .collect();
    waiting.sort_by_key(|u| (u.publish_by.clone(), u.version));
    Ok(waiting)
}

pub async fn page(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let en = english(q.lang.as_deref());
    let message = q.done.as_deref().map(|done| done_text(done, en).to_string());
    render(&admin, &caller, en, message, None, StatusCode::OK).await
}

fn done_text(done: &str, en: bool) -> &'static str {
    match (done, en) {
        ("added", false) => "Учётная запись сохранена.",
        ("added", true) => "The account is saved.",
        ("granted", false) => "Роль и подразделения изменены.",
        ("granted", true) => "Role and units changed.",
        ("disabled", false) => "Учётная запись отключена.",
        ("disabled", true) => "The account is disabled.",
        ("revoked", false) => "Токены отозваны.",
        ("revoked", true) => "The tokens are revoked.",
        (_, false) => "Готово.",
        (_, true) => "Done.",
    }
}

/// A form's role and units (comma- or space-separated).
fn grant_of(role: &str, units: &str) -> Result<Grant, ApiError> {
    let role = Role::ALL
        .into_iter()
        .find(|r| r.as_str() == role)
        .ok_or_else(|| ApiError::invalid("role", format!("unknown role {role:?}")))?;
    let units = units.split([',', ' ']).map(str::trim).filter(|u| !u.is_empty()).map(String::from).collect();
    Ok(Grant { role, units })
}

/// Back to the page with what was done, or the page with why not.
async fn after(
    admin: &Admin,
    caller: &Principal,
    en: bool,
    done: Result<&str, (StatusCode, String)>,
) -> Result<Response, ApiError> {
    match done {
        Ok(done) => {
            Ok(Redirect::to(&format!("/admin?done={done}{}", if en { "&lang=en" } else { "" })).into_response())
        }
        Err((status, why)) => render(admin, caller, en, Some(why), None, status).await,
    }
}

/// An account error a person can fix, as the page says it; others are 500s.
fn refusal(e: AccountError) -> Result<(StatusCode, String), ApiError> {
    match e {
        AccountError::Storage(_) | AccountError::Hash(_) => Err(internal(e)),
        other => Ok((StatusCode::UNPROCESSABLE_ENTITY, other.to_string())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountForm {
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    units: String,
    lang: Option<String>,
}

pub async fn add_account(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    JsonOrForm { value: form, .. }: JsonOrForm<AccountForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    let grant = grant_of(&form.role, &form.units)?;
    if form.name.trim() == caller.name && grant.role != Role::Admin {
        let why = if en {
            "You cannot take your own admin role."
        } else {
            "Нельзя снять роль администратора с себя."
        };
        return after(&admin, &caller, en, Err((StatusCode::CONFLICT, why.into()))).await;
    }
    let done = match auth::add_user(&admin.storage, form.name.trim(), &form.password, &grant).await {
        Ok(()) => Ok("added"),
        Err(e) => Err(refusal(e)?),
    };
    after(&admin, &caller, en, done).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantForm {
    role: String,
    #[serde(default)]
    units: String,
    lang: Option<String>,
}

pub async fn grant(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    Path(name): Path<String>,
    JsonOrForm { value: form, .. }: JsonOrForm<GrantForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    let grant = grant_of(&form.role, &form.units)?;
    if name == caller.name && grant.role != Role::Admin {
        let why = if en {
            "You cannot take your own admin role."
        } else {
            "Нельзя снять роль администратора с себя."
        };
        return after(&admin, &caller, en, Err((StatusCode::CONFLICT, why.into()))).await;
    }
    let done = match directory::set_grant(&admin.storage, &name, &grant).await {
        Ok(true) => Ok("granted"),
        Ok(false) => return Err(ApiError::NotFound { what: "account", field: "name", id: name }),
        Err(e) => Err(refusal(e)?),
    };
    after(&admin, &caller, en, done).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangForm {
    lang: Option<String>,
}

pub async fn disable(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    Path(name): Path<String>,
    JsonOrForm { value: form, .. }: JsonOrForm<LangForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    if name == caller.name {
        let why = if en {
            "You cannot disable your own account."
        } else {
            "Нельзя отключить свою учётную запись."
        };
        return after(&admin, &caller, en, Err((StatusCode::CONFLICT, why.into()))).await;
    }
    match auth::disable_user(&admin.storage, &name).await.map_err(internal)? {
        true => after(&admin, &caller, en, Ok("disabled")).await,
        false => Err(ApiError::NotFound { what: "account", field: "name", id: name }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    name: String,
    role: String,
    #[serde(default)]
    units: String,
    lang: Option<String>,
}

/// A new token, shown on this page only: it is not kept, only its hash.
pub async fn add_token(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    JsonOrForm { value: form, .. }: JsonOrForm<TokenForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    let grant = grant_of(&form.role, &form.units)?;
    let name = form.name.trim().to_string();
    match auth::create_token(&admin.storage, &name, &grant).await {
        Ok(token) => render(&admin, &caller, en, None, Some((name, token)), StatusCode::OK).await,
        Err(e) => after(&admin, &caller, en, Err(refusal(e)?)).await,
    }
}

pub async fn revoke(
    State(admin): State<Admin>,
    Extension(caller): Extension<Principal>,
    Path(name): Path<String>,
    JsonOrForm { value: form, .. }: JsonOrForm<LangForm>,
) -> Result<Response, ApiError> {
    let en = english(form.lang.as_deref());
    auth::revoke_tokens(&admin.storage, &name).await.map_err(internal)?;
    after(&admin, &caller, en, Ok("revoked")).await
}
