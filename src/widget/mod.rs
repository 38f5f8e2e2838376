//! The embeddable widget (`/widget.js`, and what it loads only when a page
//! asks for it: `/widget/time.js`, `/widget/questions/…`) and its
//! no-JavaScript fallbacks (`/embed/{site}/{journey}/{stage}`, and
//! `…/questions` for a stage's question set).

use std::sync::{Arc, LazyLock};

use askama::Template;
use axum::extract::State;

use crate::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::SiteConfig;
use crate::domain::Scale;
use crate::error::ApiError;
use crate::journeys::model::{Journey, Stage};

/// The widget as served: `widget.js` minified by `scripts/build-widget.sh`,
/// one bundle a language (Russian by default, `?lang=en` for English).
pub const WIDGET_JS: &str = include_str!("widget.ru.min.js");
pub const WIDGET_EN_JS: &str = include_str!("widget.en.min.js");
/// The question-set form, loaded by a widget that asks a set.
pub const QUESTIONS_JS: &str = include_str!("questions.min.js");
/// The time question, loaded by a widget with `data-ask-time`.
pub const TIME_JS: &str = include_str!("time.ru.min.js");
pub const TIME_EN_JS: &str = include_str!("time.en.min.js");

/// A strong ETag of `body`.
fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
}

/// Of the widget's and the time question's bundles, Russian then English.
static ETAGS: LazyLock<[HeaderValue; 4]> =
    LazyLock::new(|| [WIDGET_JS, WIDGET_EN_JS, TIME_JS, TIME_EN_JS].map(|script| etag(script.as_bytes())));

#[derive(Clone)]
struct Embed {
    catalog: crate::journeys::Live,
    sites: Arc<std::collections::BTreeMap<String, SiteConfig>>,
}

pub fn router(
    catalog: crate::journeys::Live,
    sites: Arc<std::collections::BTreeMap<String, SiteConfig>>,
) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(widget_js))
        .routes(routes!(questions_js))
        .routes(routes!(time_js))
        .routes(routes!(embed))
        .routes(routes!(embed_questions))
        .layer(tower::util::MapResponseLayer::new(crate::web::public_pages))
        .layer(CompressionLayer::new())
        .with_state(Embed { catalog, sites })
}

#[derive(Debug, Deserialize)]
struct WidgetQuery {
    lang: Option<String>,
}

/// The widget script; revalidated hourly, so a new version reaches sites within the hour.
#[utoipa::path(get, path = "/widget.js", tag = "widget",
    params(("lang" = Option<String>, Query, description = "ru (default) or en: the bundle with that language's words")),
    responses(
        (status = 200, description = "The widget", content_type = "text/javascript"),
        (status = 304, description = "Unchanged since the ETag sent"),
    ))]
async fn widget_js(headers: HeaderMap, Query(query): Query<WidgetQuery>) -> Response {
    let en = query.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let (body, tag) = if en { (WIDGET_EN_JS, &ETAGS[1]) } else { (WIDGET_JS, &ETAGS[0]) };
    script(&headers, body.to_string(), tag.clone())
}

/// The time question ("how long did it take?") a widget with `data-ask-time` loads.
#[utoipa::path(get, path = "/widget/time.js", tag = "widget",
    params(("lang" = Option<String>, Query, description = "ru (default) or en")),
    responses(
        (status = 200, description = "The time question", content_type = "text/javascript"),
        (status = 304, description = "Unchanged since the ETag sent"),
    ))]
async fn time_js(headers: HeaderMap, Query(query): Query<WidgetQuery>) -> Response {
    let en = query.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let (body, tag) = if en { (TIME_EN_JS, &ETAGS[3]) } else { (TIME_JS, &ETAGS[2]) };
    script(&headers, body.to_string(), tag.clone())
}

/// A script of the widget's, cached for an hour and revalidated by its ETag.
fn script(headers: &HeaderMap, body: String, etag: HeaderValue) -> Response {
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        // Lets sites that isolate themselves (COEP) load it.
        (header::HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("cross-origin")),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))];
    (cache, content_type, body).into_response()
}

/// The question-set form of one stage for the widget: the form's script, then
/// the stage's questions (id, Russian, English) handed to it.
#[utoipa::path(get, path = "/widget/questions/{site}/{journey}/{stage}", tag = "widget",
    params(("site" = String, Path), ("journey" = String, Path), ("stage" = String, Path)),
    responses(
        (status = 200, description = "The set's form", content_type = "text/javascript"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 404, description = "Unknown site, journey or stage, or a stage without a set", body = crate::error::ErrorBody),
    ))]
async fn questions_js(
    State(state): State<Embed>,
    headers: HeaderMap,
    Path((site, journey, stage)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog.get();
    let (_, _, stage_def) = state.place(&catalog, &site, &journey, &stage)?;
    let set = stage_def.question_set().ok_or_else(|| not_found("question set", &stage))?;
    let questions: Vec<[&str; 3]> = set.questions.iter().map(|q| [q.id.as_str(), &q.ru, &q.en]).collect();
    let data = serde_json::json!({ "questions": questions });
    let body = format!("{QUESTIONS_JS}\ntouchpointQuestions(touchpointSet,{data});\n");
    let tag = etag(body.as_bytes());
    Ok(script(&headers, body, tag))
}

#[derive(Debug, Deserialize)]
struct EmbedQuery {
    /// Touchpoint of the stage; default: the stage's first.
    touchpoint: Option<String>,
    scale: Option<Scale>,
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage<'a> {
    lang: &'a str,
    en: bool,
    event_id: String,
    site: &'a str,
    journey: &'a str,
    stage: &'a str,
    stage_name: &'a str,
    touchpoint: &'a str,
    scale: &'a str,
    scores: Vec<(u8, String)>,
    tags: Vec<(&'a str, &'a str)>,
}

fn not_found(what: &'static str, id: &str) -> ApiError {
    ApiError::NotFound { what, field: what, id: id.to_string() }
}

impl Embed {
    /// The site, and the journey and stage it may embed a form for.
    fn place<'c>(
        &self,
        catalog: &'c crate::journeys::Catalog,
        site: &str,
        journey: &str,
        stage: &str,
    ) -> Result<(&SiteConfig, &'c Journey, &'c Stage), ApiError> {
        let site_config = self.sites.get(site).ok_or_else(|| not_found("site", site))?;
        let journey_def = catalog
            .journey(journey)
            .filter(|j| site_config.journeys.contains(&j.id))
            .ok_or_else(|| not_found("journey", journey))?;
        let stage_def = journey_def.stages.iter().find(|s| s.id == stage).ok_or_else(|| not_found("stage", stage))?;
        Ok((site_config, journey_def, stage_def))
    }
}

/// The touchpoint asked for, if the stage uses it; default the stage's first.
fn touchpoint_of<'s>(stage: &'s Stage, asked: Option<&str>) -> Result<&'s str, ApiError> {
    match asked {
        Some(t) => {
            stage.touchpoints.iter().find(|s| *s == t).map(String::as_str).ok_or_else(|| not_found("touchpoint", t))
        }
        None => Ok(stage.touchpoints.first().map(String::as_str).unwrap_or_default()),
    }
}

fn scores(scale: Scale, en: bool) -> Vec<(u8, String)> {
    let (lo, hi) = scale.range();
    (lo..=hi)
        .map(|s| {
            let label = match (scale, en, s) {
                (Scale::Thumbs, false, 0) => "👎 Нет".to_string(),
                (Scale::Thumbs, false, _) => "👍 Да".to_string(),
                (Scale::Thumbs, true, 0) => "👎 No".to_string(),
                (Scale::Thumbs, true, _) => "👍 Yes".to_string(),
                (_, false, s) if s == lo => format!("{s} — очень плохо"),
                (_, true, s) if s == lo => format!("{s} — very bad"),
                (_, false, s) if s == hi => format!("{s} — отлично"),
                (_, true, s) if s == hi => format!("{s} — excellent"),
                (_, _, s) => s.to_string(),
            };
            (s, label)
        })
        .collect()
}

/// The rating form as a page of its own: works in an iframe and with
/// JavaScript off, and posts as a plain form.
#[utoipa::path(get, path = "/embed/{site}/{journey}/{stage}", tag = "widget",
    params(
        ("site" = String, Path), ("journey" = String, Path), ("stage" = String, Path),
        ("touchpoint" = Option<String>, Query), ("scale" = Option<String>, Query, description = "csat, nps, ces or thumbs"),
        ("lang" = Option<String>, Query, description = "ru (default) or en"),
    ),
    responses(
        (status = 200, description = "The form", content_type = "text/html"),
        (status = 404, description = "Unknown site, journey, stage or touchpoint", body = crate::error::ErrorBody),
    ))]
async fn embed(
    State(state): State<Embed>,
    Path((site, journey, stage)): Path<(String, String, String)>,
    Query(query): Query<EmbedQuery>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog.get();
    let (site_config, journey_def, stage_def) = state.place(&catalog, &site, &journey, &stage)?;
    let touchpoint = touchpoint_of(stage_def, query.touchpoint.as_deref())?;
    let en = query.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let scale = query.scale.unwrap_or(Scale::Csat);
    let page = EmbedPage {
        lang: if en { "en" } else { "ru" },
        en,
        event_id: uuid::Uuid::new_v4().to_string(),
        site: &site,
        journey: &journey_def.id,
        stage: &stage_def.id,
        stage_name: if en { &stage_def.name.en } else { &stage_def.name.ru },
        touchpoint,
        scale: scale.as_str(),
        scores: scores(scale, en),
        tags: stage_def
            .tags
            .iter()
            .map(|t| (t.id.as_str(), if en { t.name.en.as_str() } else { t.name.ru.as_str() }))
            .collect(),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("embed template failed: {e}")))?;
    // Only the site's own pages may frame the form.
    let csp = crate::web::embeddable_csp(&site_config.origins);
    let csp = HeaderValue::from_str(&csp).map_err(|e| ApiError::Internal(anyhow::anyhow!("CSP header: {e}")))?;
    Ok(([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response())
}

#[derive(Debug, Deserialize)]
struct QuestionsQuery {
    /// Touchpoint of the stage; default: the stage's first.
    touchpoint: Option<String>,
    lang: Option<String>,
}

/// The stage's question set as a page of its own, like [`embed`]: works in
/// an iframe and with JavaScript off, posts to `/api/v1/answers` as a form.
#[utoipa::path(get, path = "/embed/{site}/{journey}/{stage}/questions", tag = "widget",
    params(
        ("site" = String, Path), ("journey" = String, Path), ("stage" = String, Path),
        ("touchpoint" = Option<String>, Query), ("lang" = Option<String>, Query, description = "ru (default) or en"),
    ),
    responses(
        (status = 200, description = "The form", content_type = "text/html"),
        (status = 404, description = "Unknown site, journey, stage or touchpoint, or a stage without a set", body = crate::error::ErrorBody),
    ))]
async fn embed_questions(
    State(state): State<Embed>,
    Path((site, journey, stage)): Path<(String, String, String)>,
    Query(query): Query<QuestionsQuery>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog.get();
    let (site_config, journey_def, stage_def) = state.place(&catalog, &site, &journey, &stage)?;
    let set = stage_def.question_set().ok_or_else(|| not_found("question set", &stage))?;
    let touchpoint = touchpoint_of(stage_def, query.touchpoint.as_deref())?.to_string();
    let en = query.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let hidden = [
        ("event_id", uuid::Uuid::new_v4().to_string()),
        ("site", site.clone()),
        ("journey", journey_def.id.clone()),
        ("stage", stage_def.id.clone()),
        ("touchpoint", touchpoint),
        ("locale", if en { "en" } else { "ru" }.to_string()),
    ];
    let name = if en { &stage_def.name.en } else { &stage_def.name.ru };
    let html = crate::web::set_form::render(&set, en, name, "/api/v1/answers", &hidden)?;
    let csp = crate::web::embeddable_csp(&site_config.origins);
    let csp = HeaderValue::from_str(&csp).map_err(|e| ApiError::Internal(anyhow::anyhow!("CSP header: {e}")))?;
    Ok(([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response())
}
