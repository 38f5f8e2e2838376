//! The client's way back (order 2.6.8): when a rating opens a case, the
//! thank-you step offers a follow link (`link`). Its page shows the case's
//! status and the ministry's answer, takes the client's rating of that
//! answer (satisfaction with the handling itself), and, before the answer,
//! an e-mail address for a notice, only with explicit consent (`store`).

mod link;
mod pages;
pub(crate) use pages::status_text;
pub mod store;

use std::sync::Arc;

use axum::Router;

pub use link::FollowLinks;
pub use store::FollowStore;

use crate::cases::CaseBook;
use crate::domain::time::Clock;

/// What the follow pages share.
#[derive(Clone)]
pub struct Follow {
    pub links: Arc<FollowLinks>,
    pub book: CaseBook,
    pub store: FollowStore,
    pub clock: Clock,
    /// The ministry's time zone (`cases.utc_offset`), for the dates shown.
    pub offset: time::UtcOffset,
}

/// `/follow/{token}` and its two forms; public, so behind `guard` (the
/// capture routes' per-address limits and counts).
pub fn router(follow: Follow, guard: crate::web::GuardLayer) -> Router {
    pages::router(follow).layer(guard)
}
