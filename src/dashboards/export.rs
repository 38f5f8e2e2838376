//! CSV exports. A cell that starts with `=`, `+`, `-`, `@` (or a tab or
//! carriage return) is prefixed with `'`, so a spreadsheet shows it as text
//! instead of running it as a formula.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use clickhouse::Row;
use serde::Deserialize;

use super::{Dashboards, ViewQuery, stats};
use crate::error::ApiError;

/// Rows of one raw export at most; narrow the period for more.
const MAX_ROWS: u64 = 1_000_000;

pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn csv_response(name: &str, records: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
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
    case_ref: String,
}

pub async fn feedback(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let journey = state.journey(&id)?;
    let filters = q.filters(journey, &state.catalog)?;
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
            "case_ref",
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
            r.case_ref,
        ]);
    }
    csv_response(&format!("{}-feedback.csv", journey.id), records)
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_become_text() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("Долго"), "Долго");
    }
}
