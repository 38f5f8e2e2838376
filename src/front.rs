//! `/`: the front door. Says what the service is, in Russian (default) or
//! English, and links what anyone may open — the public register, the
//! journeys, the API document — and the staff's login.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tower::util::MapResponseLayer;

use crate::error::ApiError;
use crate::extract::Query;
use crate::web;

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "front.html")]
struct FrontPage {
    lang: &'static str,
    en: bool,
    authority: String,
    /// Id and name of each journey.
    journeys: Vec<(String, String)>,
}

pub fn router(catalog: crate::journeys::Live) -> Router {
    Router::new().route("/", get(page)).layer(MapResponseLayer::new(web::public_pages)).with_state(catalog)
}

async fn page(State(catalog): State<crate::journeys::Live>, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let catalog = catalog.get();
    let en = q.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    let pick = |t: &crate::journeys::model::Text| if en { t.en.clone() } else { t.ru.clone() };
    let page = FrontPage {
        lang: if en { "en" } else { "ru" },
        en,
        authority: pick(&catalog.register.authority),
        journeys: catalog.journeys().map(|j| (j.id.clone(), pick(&j.name))).collect(),
    };
    let html = page.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("front page template failed: {e}")))?;
    Ok(Html(html).into_response())
}
