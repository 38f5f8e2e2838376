//! CSV exports of the dashboards, written by the one CSV writer of the
//! service (`web::csv`), so that a spreadsheet opening them runs nothing.

use axum::extract::State;

use crate::extract::{Path, Query};
use axum::response::Response;
use clickhouse::Row;
use serde::Deserialize;

use super::{Dashboards, ViewQuery, stats};
use crate::error::ApiError;

/// Rows of one raw export at most; narrow the period for more.
const MAX_ROWS: u64 = 1_000_000;

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
    crate::web::csv::download(&format!("{}-stages.csv", journey.id), records)
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
    let filters = q.filters(journey, &catalog, state.now())?;
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
    crate::web::csv::download(&format!("{}-feedback.csv", journey.id), records)
}
