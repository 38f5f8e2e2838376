//! The register of touchpoints as the order keeps it (issue 15):
//! - `documents`, `change`: one version of the register and the journeys,
//!   and the changes of 5.3 applied to it whole;
//! - `store`, `desk`, `api`: versions and drafts in ClickHouse, drafted by
//!   editors and included by approvers (2.2), every version public;
//! - `public`: the version in force published for anyone (5.2) as a page
//!   the ministry's sites may embed, and as CSV (the JSON is
//!   `GET /api/v1/touchpoints`).

pub mod api;
pub mod change;
pub mod desk;
pub mod diff;
pub mod documents;
mod pages;
mod public;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower::util::MapResponseLayer;

use crate::web;

/// What the register's pages share.
#[derive(Clone)]
pub struct Published {
    pub catalog: crate::journeys::Live,
    /// Past versions.
    pub store: store::RegisterStore,
    /// The ministry's time zone, for the days shown.
    pub offset: time::UtcOffset,
    /// The page's CSP: the sites' origins may frame it.
    pub csp: Arc<str>,
}

/// The editors' and approvers' page and its forms.
pub fn pages_router(
    desk: desk::Desk,
    reading: crate::accounts::auth::Admits,
    drafting: crate::accounts::auth::Admits,
    deciding: crate::accounts::auth::Admits,
) -> Router {
    pages::router(desk, reading, drafting, deciding)
}

/// `/register` and `/register.csv`: public, read-only.
pub fn router(state: Published) -> Router {
    Router::new()
        .route("/register", get(public::page))
        .route("/register.csv", get(public::csv))
        .layer(MapResponseLayer::new(web::public_pages))
        .with_state(state)
}
