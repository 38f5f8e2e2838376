//! CSV exports, written so that a spreadsheet opening them runs nothing: see
//! [`neutralise`] for the cells, and every cell is quoted.

use axum::extract::State;

use crate::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use clickhouse::Row;
use serde::Deserialize;

use super::{Dashboards, ViewQuery, stats};
use crate::error::ApiError;

/// Rows of one raw export at most; narrow the period for more.
const MAX_ROWS: u64 = 1_000_000;

/// What a spreadsheet would evaluate becomes text: a cell whose first
/// character after any leading whitespace (spaces, no-break spaces, tabs,
/// line breaks; spreadsheets skip them) starts a formula, `= + - @` or their
/// full-width forms, gets a leading `'`. A plain number (`-12.5`) is left a
/// number. A formula after a `;` or a tab inside a cell is harmless because
/// every cell is quoted ([`csv_response`]), so no spreadsheet splits it there.
pub fn neutralise(cell: &str) -> String {
    let first = cell.trim_start().chars().next();
    let formula = matches!(first, Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠'));
    if formula && !is_plain_number(cell) { format!("'{cell}") } else { cell.to_string() }
}

/// `-12`, `3.5`: digits with an optional leading minus and one decimal point.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn csv_response(name: &str, records: Vec<Vec<String>>) -> Result<Response, ApiError> {
    // Quoted, a cell stays one cell for a spreadsheet that splits on `;` or tabs.
    let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
    for record in records {
        writer.write_record(record.iter().map(|c| neutralise(c))).map_err(|e| ApiError::Internal(e.into()))?;
    }
    let body = writer.into_inner().map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.2}"))
}

pub async fn stages(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let (journey, _, stats) = state.view(&id, &q, stats::Parts { timeline: false, ..stats::Parts::ALL }).await?;
    let mut records = vec![
        [
            "stage",
            "number",
            "name",
            "n",
            "too_few",
            "score",
            "ci95_low",
            "ci95_high",
            "emotion",
            "positive",
            "negative",
            "time_n",
            "time_median_h",
            "time_p90_h",
            "time_target_h",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let hours = |ms: Option<f64>| num(ms.map(|m| m / 3_600_000.0));
    for s in &stats.stages {
        records.push(vec![
            s.id.clone(),
            s.number.to_string(),
            s.name.ru.clone(),
            s.score.n.to_string(),
            s.score.too_few.to_string(),
            num(s.score.score),
            num(s.score.ci95.map(|c| c.0)),
            num(s.score.ci95.map(|c| c.1)),
            num(s.score.emotion),
            num(s.score.positive),
            num(s.score.negative),
            s.time.n.to_string(),
            hours(s.time.median_ms),
            hours(s.time.p90_ms),
            hours(s.time.target_ms.map(|t| t as f64)),
        ]);
    }
    csv_response(&format!("{}-stages.csv", journey.id), records)
}

#[derive(Row, Deserialize)]
struct RawRow {
    event_id: String,
    occurred_at: String,
    stage: String,
    touchpoint: String,
    channel: String,
    segment: String,
    scale: String,
    score: u8,
    emotion: String,
    comment: String,
    tags: String,
}

pub async fn feedback(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog.get();
    let journey = catalog.journey_or_404(&id)?;
    let filters = q.filters(journey, &catalog)?;
    let rows = stats::raw_feedback::<RawRow>(&state.storage, &journey.id, &filters, MAX_ROWS).await?;
    let mut records = vec![
        [
            "event_id",
            "occurred_at",
            "stage",
            "touchpoint",
            "channel",
            "segment",
            "scale",
            "score",
            "emotion",
            "comment",
            "tags",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        records.push(vec![
            r.event_id,
            r.occurred_at,
            r.stage,
            r.touchpoint,
            r.channel,
            r.segment,
            r.scale,
            r.score.to_string(),
            r.emotion,
            r.comment,
            r.tags,
        ]);
    }
    csv_response(&format!("{}-feedback.csv", journey.id), records)
}

#[cfg(test)]
mod tests {
    use super::{csv_response, neutralise};

    #[test]
    fn whatever_a_spreadsheet_would_evaluate_becomes_text() {
        let formulas = [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            " =1",
            "\u{a0}=1",
            "\u{2003}+1",
            "\n=1",
            "\r\n-1",
            "\t=1",
            "\r=1",
            "＝1+1",
            "＋1",
            "－1",
            "＠A1",
            "-cmd|' /C calc'!A0",
        ];
        for cell in formulas {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        for text in ["Долго", "3", "-12.5", "0.75", "a=b", "1-2", "", "e-mail"] {
            assert_eq!(neutralise(text), text, "{text:?}");
        }
    }

    #[tokio::test]
    async fn every_cell_is_quoted_so_a_semicolon_hides_no_formula() {
        let records = vec![vec!["Долго;=HYPERLINK(\"http://evil.example\")".to_string(), "4.5".to_string()]];
        let response = csv_response("x.csv", records).unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), "\"Долго;=HYPERLINK(\"\"http://evil.example\"\")\",\"4.5\"\n");
    }
}
