//! Official measures (issue 18): each question of a stage's set (the five
//! "Ваш контроль" criteria or the stage's own) as its own measure, response
//! rates, the standards met — as JSON for the ministry's systems
//! (`/api/v1/journeys/{id}/official`), and as the report ministries file
//! (`/dashboard/{journey}/official`, `.xlsx`, `.csv`; the US A-11 layout of
//! answer counts with `layout=a11`). For analysts.

pub mod api;
pub mod figures;
mod files;
mod report;
pub mod tables;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use tower::util::MapResponseLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::auth;
use crate::dashboards::Dashboards;
use crate::web;

pub use figures::{Criterion, Figures, Reach, Standards, figures};

/// The JSON figures, described in the OpenAPI document.
pub fn api_router(state: Dashboards) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(api::official))
        .layer(middleware::from_fn_with_state(state.readers(), auth::require))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}

/// The report's page and files.
pub fn pages_router(state: Dashboards) -> Router {
    Router::new()
        .route("/dashboard/{journey}/official", get(report::page))
        .route("/dashboard/{journey}/official.xlsx", get(report::xlsx))
        .route("/dashboard/{journey}/official.csv", get(report::csv))
        .layer(middleware::from_fn_with_state(state.readers(), auth::require))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(state)
}
