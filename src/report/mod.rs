//! The report the lab hands to the minister (issue 16): per journey, the
//! map's stages with their scores, emotions and time, the lab's
//! recommendations with their status and measured effect, and the charts;
//! a printable page and the same as a PDF (`pdf`). For analysts only.

mod pdf;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower::util::MapResponseLayer;

use crate::accounts::auth;
use crate::dashboards::charts::{self, Chart};
use crate::dashboards::{Dashboards, ViewQuery, stats};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::journeys::model::Journey;
use crate::recommendations::{Tracked, label, words};
use crate::web::duration_text;
use crate::web::{self, Words};

/// `/dashboard/{journey}/report` and `.../report.pdf`.
pub fn router(state: Dashboards) -> Router {
    Router::new()
        .route("/dashboard/{journey}/report", get(page))
        .route("/dashboard/{journey}/report.pdf", get(document))
        .layer(middleware::from_fn_with_state(state.readers(), auth::require))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

/// One stage: its heading and a line per fact.
pub struct StageBlock {
    pub heading: String,
    pub facts: Vec<String>,
}

/// One recommendation, in words.
pub struct RecommendationBlock {
    pub label: String,
    pub stage: String,
    pub text: String,
    pub status: String,
    pub effect: String,
}

/// Everything the report says, in one language, before it is laid out.
#[derive(Template)]
#[template(path = "report.html")]
pub struct Report {
    pub lang: &'static str,
    pub title: String,
    pub period: String,
    pub stages: Vec<StageBlock>,
    pub recommendations: Vec<RecommendationBlock>,
    /// Caption and SVG of each chart.
    pub charts: Vec<(String, String)>,
    pub method: &'static str,
    pub journey: String,
    pub en: bool,
    /// The page's filters, which its links (the dashboard, the PDF, the
    /// other language) carry.
    pub query: String,
    /// The same filters in the other language.
    pub other_lang: String,
}

/// The lab's note on method, printed with every report.
fn method(w: &Words) -> &'static str {
    w.pick(
        "Оценка этапа — средняя по шкале 0–100 (все шкалы приводятся к ней), с 95% доверительным интервалом; \
         при малом числе ответов оценка не приводится. Эффект рекомендации: мера этапа в равных окнах до и после \
         дня выполнения (сам день не входит); для средних — интервал Уэлча (время — в логарифмах, изменение в %), \
         для долей — интервал Ньюкомба; вывод «улучшилось» или «ухудшилось» — только когда интервал не содержит \
         нуля, с поправкой Бонферрони, если по пути оцениваются несколько рекомендаций сразу.",
        "A stage's score is the mean on a 0–100 scale (every scale is mapped to it) with its 95% confidence \
         interval; with too few answers no score is given. A recommendation's effect: the stage's measure in equal \
         windows before and after the day it was done (that day in neither); Welch's interval for means (time on a \
         log scale, the change in %), Newcombe's for shares; \"improved\" or \"worse\" only when the interval \
         excludes zero, Bonferroni-corrected when several recommendations of a journey are judged at once.",
    )
}

async fn build(state: &Dashboards, id: &str, mut q: ViewQuery) -> Result<Report, ApiError> {
    // A report looks back a quarter unless told otherwise.
    if q.period.is_none() && q.from.is_none() {
        q.period = Some(90);
    }
    let en = q.english();
    let w = Words { en, offset: time::UtcOffset::UTC };
    let query = q.query_string();
    let other_lang = ViewQuery { lang: Some(if en { "ru" } else { "en" }.into()), ..q.clone() }.query_string();
    let (journey, filters, stats) = state.view(id, &q, stats::Parts::ALL).await?;
    let tracked = state.lab.list(&journey.id).await?;
    let chart_words = charts::Words { en };
    let mut drawn = Vec::new();
    for chart in [Chart::Stages, Chart::Timeline, Chart::Time] {
        let svg = charts::svg(chart, &stats, &chart_words).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        drawn.push((chart.name().to_string(), svg));
    }
    let day = |t: u32| w.time(t)[..10].to_string();
    Ok(Report {
        lang: w.lang(),
        title: format!(
            "{}: {}",
            w.text(&journey.name),
            w.pick("клиентский опыт и рекомендации", "client experience and recommendations")
        ),
        period: format!("{} {} — {}", w.pick("Период", "Period"), day(filters.from), day(filters.to - 1)),
        stages: stage_blocks(&state.catalog.get(), &journey, &stats, &tracked, &w),
        recommendations: recommendation_blocks(&journey, &tracked, &w),
        charts: drawn,
        method: method(&w),
        journey: journey.id.clone(),
        en,
        query,
        other_lang,
    })
}

/// Each stage's measured numbers, touchpoints and recommendations' status.
fn stage_blocks(
    catalog: &crate::journeys::Catalog,
    journey: &Journey,
    stats: &stats::JourneyStats,
    tracked: &[Tracked],
    w: &Words,
) -> Vec<StageBlock> {
    let en = w.en;
    journey
        .stages
        .iter()
        .zip(&stats.stages)
        .map(|(stage, s)| {
            let mut facts = Vec::new();
            facts.push(match (s.score.too_few, s.score.score, s.score.ci95) {
                (false, Some(v), Some((lo, hi))) => {
                    format!("{} {v:.0} (95%: {lo:.0}–{hi:.0}; n={})", w.pick("Оценка", "Score"), s.score.n)
                }
                _ => format!(
                    "{} (n={})",
                    w.pick("Слишком мало ответов для оценки", "Too few answers for a score"),
                    s.score.n
                ),
            });
            if let (Some(e), Some(p), Some(n)) = (s.score.emotion, s.score.positive, s.score.negative) {
                facts.push(format!(
                    "{} {e:+.0} ({:.0}% +, {:.0}% −)",
                    w.pick("Эмоции", "Emotion"),
                    100.0 * p,
                    100.0 * n
                ));
            }
            if let (Some(m), Some(p)) = (s.time.median_ms, s.time.p90_ms) {
                facts.push(format!(
                    "{}: {} {}, p90 {} (n={})",
                    w.pick("Время", "Time"),
                    w.pick("медиана", "median"),
                    duration_text(m, en),
                    duration_text(p, en),
                    s.time.n
                ));
            }
            let touchpoints: Vec<&str> =
                stage.touchpoints.iter().filter_map(|t| catalog.touchpoint(t)).map(|t| w.text(&t.name)).collect();
            facts.push(format!("{}: {}", w.pick("Точки взаимодействия", "Touchpoints"), touchpoints.join("; ")));
            for (i, t) in tracked.iter().enumerate().filter(|(_, t)| t.recommendation.stage == stage.id) {
                facts.push(format!("{}: {}", label(i, en), words::status(t.recommendation.status, w)));
            }
            StageBlock { heading: format!("{}. {}", s.number, w.text(&stage.name)), facts }
        })
        .collect()
}

/// Each recommendation with its stage, status, measure and effect.
fn recommendation_blocks(journey: &Journey, tracked: &[Tracked], w: &Words) -> Vec<RecommendationBlock> {
    let stage_name = |id: &str| match journey.stages.iter().position(|s| s.id == id) {
        Some(k) => format!("{}. {}", k + 1, w.text(&journey.stages[k].name)),
        None => id.to_string(),
    };
    tracked
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let r = &t.recommendation;
            let done = r.implemented_on.map_or_else(String::new, |d| format!(" {d}"));
            RecommendationBlock {
                label: label(i, w.en),
                stage: stage_name(&r.stage),
                text: w.text(&r.text).to_string(),
                status: format!(
                    "{}{done}; {}: {}",
                    words::status(r.status, w),
                    w.pick("мера", "measure"),
                    words::measure(r.measure, w)
                ),
                effect: words::effect(t, w),
            }
        })
        .collect()
}

async fn page(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let report = build(&state, &id, q).await?;
    let html = report.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok(Html(html).into_response())
}

async fn document(
    State(state): State<Dashboards>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let report = build(&state, &id, q).await?;
    // Laying out and compressing a PDF is CPU work: off the request threads.
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&report))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the PDF task failed: {e}")))?
        .map_err(ApiError::Internal)?;
    let disposition = format!("inline; filename=\"{id}-report.pdf\"");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("inline")),
            ),
        ],
        bytes,
    )
        .into_response())
}
