//! `/dashboard/{journey}/official` (a printable page), `.xlsx` and `.csv`:
//! the report a ministry files, for analysts. `layout=a11` gives the count of
//! each answer per question instead (the US A-11 layout; `quarter=2026-Q4`
//! for the quarterly report).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::files;
use super::tables::{Cell, Layout, Table, tables};
use crate::dashboards::{Dashboards, ViewQuery};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::journeys::model::Journey;
use crate::web::Words;

/// Which tables, besides the view's filters (`ViewQuery`, read from the
/// same query string).
#[derive(Debug, Default, Deserialize)]
pub struct LayoutQuery {
    /// `official` (default) or `a11`.
    pub layout: Option<Layout>,
    /// For CSV: which table of the layout, from 0.
    pub table: Option<usize>,
    /// `2026-Q4`: that quarter, instead of `period` or `from`/`to` (the
    /// quarterly A-11 report).
    pub quarter: Option<String>,
}

pub struct ReportQuery {
    pub view: ViewQuery,
    pub layout: Option<Layout>,
    pub table: Option<usize>,
}

/// Both halves of the query string, read once per request; a quarter
/// replaces the view's period.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ReportQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        let Query(mut view) = Query::<ViewQuery>::from_request_parts(parts, state).await?;
        let Query(layout) = Query::<LayoutQuery>::from_request_parts(parts, state).await?;
        if let Some(quarter) = layout.quarter.as_deref().filter(|q| !q.is_empty()) {
            let (from, to) = quarter_days(quarter)?;
            (view.from, view.to, view.period) = (Some(from), Some(to), None);
        }
        Ok(ReportQuery { view, layout: layout.layout, table: layout.table })
    }
}

/// The first and last day (`YYYY-MM-DD`) of a quarter written `2026-Q4`.
fn quarter_days(text: &str) -> Result<(String, String), ApiError> {
    let wrong = || ApiError::invalid("quarter", format!("{text:?} is not a quarter like 2026-Q4"));
    let (year, q) = text.split_once("-Q").ok_or_else(wrong)?;
    let year: i32 = year.parse().map_err(|_| wrong())?;
    let q: u8 = q.parse().ok().filter(|q| (1..=4).contains(q)).ok_or_else(wrong)?;
    let last_month = 3 * q;
    let last_day = match last_month {
        3 | 12 => 31,
        _ => 30,
    };
    Ok((format!("{year:04}-{:02}-01", last_month - 2), format!("{year:04}-{last_month:02}-{last_day}")))
}

struct Laid {
    journey: Journey,
    tables: Vec<Table>,
    title: String,
    period: String,
    words: Words,
    layout: Layout,
}

async fn laid(state: &Dashboards, id: &str, q: &ReportQuery) -> Result<Laid, ApiError> {
    let (journey, filters, figures) = super::api::read(state, id, &q.view).await?;
    let words = Words::new(q.view.lang.as_deref(), time::UtcOffset::UTC);
    let layout = q.layout.unwrap_or(Layout::Official);
    let tables = tables(&figures, &journey, &state.catalog.get(), layout, &words);
    let name = words.text(&journey.name);
    let title = match layout {
        Layout::Official => format!("{}: {name}", words.pick("Оценка качества услуги", "Service quality")),
        Layout::A11 => format!(
            "{}: {name}",
            words.pick("Ответы клиентов по вопросам (A-11)", "Client answers per question (A-11)")
        ),
    };
    let last = filters.to.saturating_sub(86_400);
    let period = format!("{} — {}", words.deadline(filters.from + 1), words.deadline(last + 1));
    Ok(Laid {
        journey, tables, title, period: format!("{}: {period}", words.pick("Период", "Period")), words, layout
    })
}

#[derive(Template)]
#[template(path = "official.html")]
struct Page {
    lang: &'static str,
    en: bool,
    title: String,
    period: String,
    journey: String,
    query: String,
    other_layout: String,
    other_layout_name: &'static str,
    /// Each table with its cells as text, numbers marked for right alignment.
    tables: Vec<PageTable>,
    method: &'static str,
}

struct PageTable {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<(String, bool)>>,
}

/// The query string a view was asked with, for the page's links.
fn query_of(q: &ReportQuery, layout: Layout) -> String {
    let layout = if layout == Layout::A11 { "&layout=a11" } else { "" };
    format!("?{}{layout}", q.view.query_string())
}

pub async fn page(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    q: ReportQuery,
) -> Result<Response, ApiError> {
    let laid = laid(&state, &id, &q).await?;
    let w = laid.words;
    let other = if laid.layout == Layout::A11 { Layout::Official } else { Layout::A11 };
    let page = Page {
        lang: w.lang(),
        en: w.en,
        title: laid.title,
        period: laid.period,
        journey: laid.journey.id.clone(),
        query: query_of(&q, laid.layout),
        other_layout: query_of(&q, other),
        other_layout_name: match other {
            Layout::A11 => w.pick("Ответы по вопросам (A-11)", "Answers per question (A-11)"),
            Layout::Official => w.pick("Основной отчёт", "The main report"),
        },
        tables: laid
            .tables
            .into_iter()
            .map(|t| PageTable {
                name: t.name,
                header: t.header,
                rows: t.rows.iter().map(|r| r.iter().map(|c| (c.text(), matches!(c, Cell::Number(_)))).collect()).collect(),
            })
            .collect(),
        method: w.pick(
            "Каждый вопрос — отдельная мера по шкале 1–5: среднее с 95% доверительным интервалом (при малом числе ответов \
             не приводится), распределение ответов, число ответов; пропущенный вопрос не считается ответом. Отклик — ответы \
             (оценки и анкеты) к предложениям: виджет показан, письмо со ссылками отправлено, звонок принят.",
            "Each question is a measure of its own on 1–5: the mean with its 95% confidence interval (not given with \
             too few answers), the distribution of answers, the number of answers; a skipped question is not an answer. \
             The response rate is answers (ratings and sets) per offer: the widget shown, a letter's links sent, a call taken.",
        ),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("official template failed: {e}")))?;
    Ok(Html(html).into_response())
}

pub async fn xlsx(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    q: ReportQuery,
) -> Result<Response, ApiError> {
    let laid = laid(&state, &id, &q).await?;
    let body = files::xlsx(&format!("{} — {}", laid.title, laid.period), &laid.tables)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    let name = format!("{}-{}.xlsx", laid.journey.id, if laid.layout == Layout::A11 { "a11" } else { "official" });
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(|e| ApiError::Internal(e.into()))?;
    let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(kind)), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

pub async fn csv(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    q: ReportQuery,
) -> Result<Response, ApiError> {
    let laid = laid(&state, &id, &q).await?;
    let index = q.table.unwrap_or(0);
    let count = laid.tables.len();
    let table = laid.tables.get(index).ok_or_else(|| ApiError::invalid("table", format!("0 to {}", count - 1)))?;
    let name =
        format!("{}-{}-{index}.csv", laid.journey.id, if laid.layout == Layout::A11 { "a11" } else { "official" });
    crate::web::csv::download(&name, files::records(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_is_its_first_and_last_day() {
        assert_eq!(quarter_days("2026-Q1").unwrap(), ("2026-01-01".into(), "2026-03-31".into()));
        assert_eq!(quarter_days("2026-Q2").unwrap(), ("2026-04-01".into(), "2026-06-30".into()));
        assert_eq!(quarter_days("2026-Q3").unwrap(), ("2026-07-01".into(), "2026-09-30".into()));
        assert_eq!(quarter_days("2026-Q4").unwrap(), ("2026-10-01".into(), "2026-12-31".into()));
        for wrong in ["2026-Q5", "2026Q1", "Q1", "2026-Q0"] {
            assert!(quarter_days(wrong).is_err(), "{wrong}");
        }
    }
}
