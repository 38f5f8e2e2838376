//! The published register: the order's table — process, touchpoint, the
//! client needs it serves (2.6), digital or offline (3.1) — printable.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::Published;
use super::diff::{Difference, diff};
use super::documents::Documents;
use crate::domain::wire_name;
use crate::error::ApiError;
use crate::extract::Query;
use crate::journeys::model::{Register, Touchpoint};

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    /// A past version; default: the one in force.
    version: Option<u32>,
    /// The version to compare with; default: the one before.
    from: Option<u32>,
}

/// One line of the table: a touchpoint within a process.
pub struct Line {
    /// The process's name on its first line only (the cell spans its lines).
    pub process: Option<(String, usize)>,
    pub touchpoint: String,
    pub kind: &'static str,
    pub needs: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    lang: &'static str,
    en: bool,
    /// The version shown.
    version: u32,
    /// The version it is compared with; 0: none.
    from: u32,
    /// Every version and the day it was approved, newest first.
    versions: Vec<(u32, String)>,
    /// What changed from the version before, one line each.
    changes: Vec<String>,
    authority: String,
    source: Option<String>,
    lines: Vec<Line>,
    /// Touchpoints excluded (5.3.4): name and day.
    excluded: Vec<(String, String)>,
}

/// Per process in the register's order, its touchpoints; then those of no
/// process, under "—".
fn lines(register: &Register, en: bool) -> Vec<Line> {
    let pick = |pair: (&'static str, &'static str)| if en { pair.1 } else { pair.0 };
    let in_force: Vec<&Touchpoint> = register.touchpoints.iter().filter(|t| t.excluded_since.is_none()).collect();
    let mut groups: Vec<(String, Vec<&Touchpoint>)> = register
        .processes
        .iter()
        .map(|p| {
            let name = if en { p.name.en.clone() } else { p.name.ru.clone() };
            (name, in_force.iter().copied().filter(|t| t.processes.contains(&p.id)).collect())
        })
        .collect();
    groups.push(("—".into(), in_force.iter().copied().filter(|t| t.processes.is_empty()).collect()));
    let mut lines = Vec::new();
    for (process, touchpoints) in groups.into_iter().filter(|(_, t)| !t.is_empty()) {
        for (i, t) in touchpoints.iter().enumerate() {
            lines.push(Line {
                process: (i == 0).then(|| (process.clone(), touchpoints.len())),
                touchpoint: if en { t.name.en.clone() } else { t.name.ru.clone() },
                kind: pick(t.kind.words()),
                needs: t.needs.iter().map(|n| pick(n.words())).collect(),
            });
        }
    }
    lines
}

/// The documents of version `version`, or of the one in force.
async fn documents(state: &Published, version: Option<u32>) -> Result<Documents, ApiError> {
    let Some(n) = version else { return Ok(Documents::of(&state.catalog.get())) };
    let docs = state.store.documents(n).await?;
    docs.ok_or(ApiError::NotFound { what: "version", field: "version", id: n.to_string() })
}

/// `GET /register`: the version in force, or `?version=N`, with what
/// changed from the version before it (or from `?from=M`) and every
/// version listed.
pub async fn page(State(state): State<Published>, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let en = q.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let docs = documents(&state, q.version).await?;
    let versions = state.store.versions().await?;
    let shown = q.version.or(versions.first().map(|v| v.version)).unwrap_or(1);
    let from = q.from.unwrap_or(shown.saturating_sub(1));
    let changes = match from {
        0 => Vec::new(),
        m => match state.store.documents(m).await? {
            Some(before) => diff(&before, &docs),
            None => return Err(ApiError::NotFound { what: "version", field: "from", id: m.to_string() }),
        },
    };
    let register = &docs.register;
    let page = RegisterPage {
        lang: if en { "en" } else { "ru" },
        en,
        version: shown,
        from,
        versions: versions
            .iter()
            .map(|v| (v.version, crate::register::desk::day(v.approved_at, state.offset)))
            .collect(),
        changes: changes.iter().map(|d| change_line(d, en)).collect(),
        authority: if en { register.authority.en.clone() } else { register.authority.ru.clone() },
        source: register.source.clone(),
        lines: lines(register, en),
        excluded: register
            .touchpoints
            .iter()
            .filter_map(|t| {
                let name = if en { &t.name.en } else { &t.name.ru };
                t.excluded_since.as_ref().map(|since| (name.clone(), since.clone()))
            })
            .collect(),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("register template failed: {e}")))?;
    let csp = HeaderValue::from_str(&state.csp).map_err(|e| ApiError::Internal(anyhow::anyhow!("CSP header: {e}")))?;
    Ok(([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response())
}

/// `GET /register.csv`: one row per touchpoint, in Russian and English; of
/// the version in force or of `?version=N`.
pub async fn csv(State(state): State<Published>, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let docs = documents(&state, q.version).await?;
    let header = ["id", "name_ru", "name_en", "kind", "processes", "needs", "channel", "excluded_since"];
    let mut records = vec![header.iter().map(|h| h.to_string()).collect::<Vec<String>>()];
    for t in &docs.register.touchpoints {
        let needs: Vec<String> = t.needs.iter().map(wire_name).collect();
        let since = t.excluded_since.clone().unwrap_or_default();
        records.push(vec![
            t.id.clone(),
            t.name.ru.clone(),
            t.name.en.clone(),
            wire_name(&t.kind),
            t.processes.join(" "),
            needs.join(" "),
            t.channel.name().to_string(),
            since,
        ]);
    }
    crate::web::csv::download("register.csv", records)
}

/// Each changed field, old → new.
fn field_changes(d: &Difference) -> String {
    d.changes.iter().map(|c| c.line()).collect::<Vec<_>>().join("; ")
}

/// `touchpoint "vks": changed kind: «digital» → «offline»` in the page's language.
fn change_line(d: &Difference, en: bool) -> String {
    let what = match (d.what, en) {
        ("touchpoint", true) => "touchpoint",
        ("touchpoint", false) => "точка взаимодействия",
        (_, true) => "stage",
        (_, false) => "этап",
    };
    let how = match (d.how, en) {
        ("added", true) => "added".to_string(),
        ("added", false) => "добавлена".to_string(),
        ("removed", true) => "removed".to_string(),
        ("removed", false) => "удалена".to_string(),
        (_, true) => format!("changed: {}", field_changes(d)),
        (_, false) => format!("изменено: {}", field_changes(d)),
    };
    format!("{what} «{}» — {how}", d.id)
}
