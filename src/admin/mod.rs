//! The admin's page: accounts and API tokens with their roles and units
//! (the same operations as `touchpoint user` and `touchpoint token`), and
//! the units and case rules the journey files and `[notify]` set, shown
//! with where to change them; and the register versions still to be
//! published on the ministry's site (order 5.4).

mod pages;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tower::util::MapResponseLayer;

use crate::accounts::auth::{self, Admits};
use crate::storage::Storage;
use crate::web;

/// What the admin page reads and changes.
#[derive(Clone)]
pub struct Admin {
    pub storage: Storage,
    pub catalog: crate::journeys::Live,
    /// `notify.units`: each unit's addresses.
    pub addresses: Arc<BTreeMap<String, Vec<String>>>,
    /// `cases.calls_unit`: the unit of calls logged without a stage.
    pub calls_unit: Option<String>,
    /// Register versions, for the ones waiting to be published (order 5.4).
    pub register: crate::register::store::RegisterStore,
    /// The ministry's time zone (`cases.utc_offset`), for the days shown.
    pub offset: time::UtcOffset,
    /// The service's one clock: how near each publication deadline is.
    pub clock: crate::domain::time::Clock,
}

/// `/admin` and its forms, for admins only.
pub fn router(admin: Admin, admits: Admits) -> Router {
    Router::new()
        .route("/admin", get(pages::page))
        .route("/admin/accounts", post(pages::add_account))
        .route("/admin/accounts/{name}/grant", post(pages::grant))
        .route("/admin/accounts/{name}/disable", post(pages::disable))
        .route("/admin/tokens", post(pages::add_token))
        .route("/admin/tokens/{name}/revoke", post(pages::revoke))
        .layer(middleware::from_fn_with_state(admits, auth::require))
        .layer(middleware::from_fn(web::same_origin_forms))
        .layer(MapResponseLayer::new(web::private_pages))
        .with_state(admin)
}
