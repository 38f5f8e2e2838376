//! `POST /api/v1/offers`: the widget says when it asked a client — shown on
//! a page, opened by the client. Answers divided by offers is the response
//! rate (`dashboards::reach`); a letter's links count as sent when a
//! staff system makes them (`email::links`), a call as an offer when it is
//! logged at a stage (`staff::log_call`).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::caller::Caller;
use super::{Capture, accepted_one};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::ingest::Submission;
use crate::storage::rows::{Event, OfferRow};

/// What the widget did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// The rating button or the inline form appeared on a page.
    Shown,
    /// The client opened the dialog or began to answer.
    Opened,
}

/// The `offers.kind` code of a letter's links made (migration 0019).
const SENT: i8 = 3;
/// The `offers.kind` code of a call logged at a stage (migration 0022).
const CALL: i8 = 4;

/// The offer a call logged at a stage is: the client could be asked at its end.
pub(super) fn called(call: &crate::storage::rows::CallRow, channel: String) -> Event {
    Event::Offer(OfferRow {
        event_id: call.event_id,
        occurred_at: call.started_at,
        received_at: call.received_at,
        site: String::new(),
        journey: call.journey.clone(),
        stage: call.stage.clone(),
        touchpoint: call.touchpoint.clone(),
        channel,
        kind: CALL,
        question_set: String::new(),
    })
}

/// Records that a letter's links were made for `place`: the letter is an
/// offer to rate, sent. `event_id` is the letter's (its rating's) id.
pub(super) async fn sent(
    capture: &Capture,
    event_id: Uuid,
    at: u32,
    place: (&str, &str, &crate::journeys::model::Touchpoint),
    question_set: &str,
) -> Result<(), ApiError> {
    let (journey, stage, touchpoint) = place;
    let row = OfferRow {
        event_id,
        occurred_at: at,
        received_at: at,
        site: crate::ingest::EMAIL_SITE.into(),
        journey: journey.into(),
        stage: stage.into(),
        touchpoint: touchpoint.id.clone(),
        channel: touchpoint.channel.name(),
        kind: SENT,
        question_set: question_set.into(),
    };
    capture.submit(vec![Submission { event: Event::Offer(row), attached: Vec::new() }]).await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferInput {
    /// Made by the client; a retry with the same id is stored once.
    pub event_id: Uuid,
    pub site: String,
    pub journey: String,
    pub stage: String,
    pub touchpoint: String,
    pub kind: OfferKind,
    /// The stage's question set was offered rather than the single rating.
    #[serde(default)]
    pub question_set: bool,
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// Sent by the widget with every event; not stored with an offer.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    #[allow(dead_code, reason = "read to be accepted, not stored")]
    pub session_id: Option<serde::de::IgnoredAny>,
    /// Sent by the widget with every event; not stored with an offer.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    #[allow(dead_code, reason = "read to be accepted, not stored")]
    pub page_path: Option<serde::de::IgnoredAny>,
}

#[utoipa::path(post, path = "/api/v1/offers", tag = "capture",
    request_body(content = OfferInput, description = "JSON (also as text/plain, for sendBeacon)"),
    responses(
        (status = 202, description = "On disk; a repeated event id is answered the same and stored once", body = super::Accepted),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "The page's origin may not post for this site", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn offers(
    State(capture): State<Capture>,
    caller: Caller,
    Json(input): Json<OfferInput>,
) -> Result<Response, ApiError> {
    let site = capture.site(&input.site, &caller, "")?;
    let catalog = capture.catalog.get();
    let checker = capture.checker(&catalog, site, capture.now(), String::new());
    let place = checker.place(&input.site, &input.journey, &input.stage, &input.touchpoint)?;
    let question_set = match input.question_set {
        true => super::answers::stage_set(place.stage)?.kind.as_str().to_string(),
        false => String::new(),
    };
    let row = OfferRow {
        event_id: input.event_id,
        occurred_at: checker.occurred_at(input.occurred_at.as_deref())?,
        received_at: crate::domain::time::unix(checker.now),
        site: input.site,
        journey: place.journey.id.clone(),
        stage: place.stage.id.clone(),
        touchpoint: place.touchpoint.id.clone(),
        channel: place.touchpoint.channel.name(),
        kind: match input.kind {
            OfferKind::Shown => 1,
            OfferKind::Opened => 2,
        },
        question_set,
    };
    capture.limits.check_site(&row.site)?;
    let id = row.event_id;
    capture.submit(vec![Submission { event: Event::Offer(row), attached: Vec::new() }]).await?;
    Ok(accepted_one(id))
}
