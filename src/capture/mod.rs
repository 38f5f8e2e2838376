//! Capture: the endpoints clients and staff systems post events to.
//!
//! Public (`/api/v1/feedback`, `/api/v1/answers`, `/api/v1/offers`, `/api/v1/timings`, `/r/{token}`): write-only,
//! CORS limited to the sites' origins, rate-limited per address and per site,
//! 64 KiB bodies. Staff (`/api/v1/calls`, `/api/v1/correspondence`,
//! `/api/v1/email-links`): bearer token. Every endpoint parses and checks
//! its input into rows once, hands them to the [`EventSink`] port (dedupe,
//! then the durable spool) and answers 202 once they are on disk; a repeat
//! of an event id is answered 202 with the same id and stored nothing.

mod answers;
mod caller;
mod email;
mod email_set;
pub mod events;
use crate::web::GuardLayer;
pub(crate) use answers::form_answers;
pub(crate) use staff::{CallInput, MAX_CALL_SECONDS, log_call};
mod offers;
mod pages;
pub mod phone;
mod staff;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::cases::{CaseRules, Deadlines, Opening, Reason};
use crate::config::{Config, SiteConfig};
use crate::domain::time::{Clock, unix};
use crate::domain::{CaseKey, CaseKeys, EventKind, Scale};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{BODY_LIMIT, BodyKind, JsonOrForm, RawJson, parse_json};
use crate::ingest::{EventSink, Outcome, Submission};
use crate::journeys::Catalog;
use crate::journeys::model::{Journey, Stage};
use crate::metrics::Metrics;
use crate::storage::rows::{Event, ProofRow, TouchRow};
use crate::storage::spool::Refused;
use crate::web::limits::Limits;
use caller::{Caller, origin_allowed};
use events::{Checker, FeedbackInput, MAX_TIMINGS_PER_REQUEST, TimingInput};

/// What a client is told to wait when the spool refuses (busy or at its disk cap).
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Shared by the capture handlers. One `Arc`: axum clones the state with
/// the route's service for every request, so a clone is one atomic add.
#[derive(Clone)]
pub struct Capture(Arc<Shared>);

pub struct Shared {
    catalog: crate::journeys::Live,
    sites: Arc<BTreeMap<String, SiteConfig>>,
    /// Where accepted events go: the only way out of capture.
    sink: Arc<dyn EventSink>,
    limits: Arc<Limits>,
    staff: staff::StaffTokens,
    signer: email::Signer,
    clock: Clock,
    /// Working-day deadlines of the cases events open.
    deadlines: Deadlines,
    /// The client's link to a case a rating opened.
    follow: Arc<crate::follow::FollowLinks>,
    /// The client's link to the history of their case (letters, rating links).
    history: Arc<crate::dossiers::HistoryLinks>,
    /// `cases.calls_unit`: who works the cases of calls without a stage.
    calls_unit: Option<String>,
    /// Hashes the case references events carry.
    case_keys: CaseKeys,
}

/// The links and keys capture hands out or uses, made once at start.
pub struct Links {
    pub follow: Arc<crate::follow::FollowLinks>,
    pub history: Arc<crate::dossiers::HistoryLinks>,
    pub keys: CaseKeys,
}

impl std::ops::Deref for Capture {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Capture {
    /// `base_url` is where rating links point: the public URL of this service.
    pub fn new(
        config: &Config,
        catalog: crate::journeys::Live,
        sink: Arc<dyn EventSink>,
        base_url: String,
        clock: Clock,
        links: Links,
    ) -> Capture {
        let limits = Limits::new(&config.limits, config.sites.keys());
        Limits::spawn_janitor(&limits);
        let deadlines = Deadlines { calendar: catalog.get().calendar.clone(), offset: config.cases.offset() };
        Capture(Arc::new(Shared {
            catalog,
            sites: Arc::new(config.sites.clone()),
            sink,
            limits,
            staff: staff::StaffTokens::new(&config.staff_tokens),
            signer: email::Signer::new(&config.email, base_url),
            clock,
            deadlines,
            follow: links.follow,
            history: links.history,
            calls_unit: config.cases.calls_unit.clone(),
            case_keys: links.keys,
        }))
    }

    /// The per-address limits and counts of the public routes, for other
    /// public pages (the follow link's).
    pub fn public_guard(&self, metrics: Arc<Metrics>) -> GuardLayer {
        GuardLayer::public(metrics, self.limits.clone())
    }

    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    pub fn sites(&self) -> Arc<BTreeMap<String, SiteConfig>> {
        self.sites.clone()
    }

    /// The site an event claims, if it exists and the browser's origin (when
    /// there is one) is one of the site's, or this service's own (the embed form).
    fn site(&self, key: &str, caller: &Caller, prefix: &str) -> Result<&SiteConfig, ApiError> {
        let site = self
            .sites
            .get(key)
            .ok_or_else(|| ApiError::invalid(format!("{prefix}site"), format!("unknown site {key:?}")))?;
        if !caller.may_post_for(&site.origins) {
            return Err(ApiError::Forbidden {
                field: "site",
                message: format!("this page's origin may not post for site {key:?}"),
            });
        }
        Ok(site)
    }

    fn checker<'a>(
        &'a self,
        catalog: &'a Catalog,
        site: &'a SiteConfig,
        now: SystemTime,
        prefix: String,
    ) -> Checker<'a> {
        Checker { catalog, site, now, prefix }
    }

    /// The case an event at `journey`/`stage` opens, if `reason` finds one in
    /// the journey's rules; it travels with the event and stands or falls with it.
    fn case(
        &self,
        event_id: Uuid,
        at: u32,
        (journey, stage, touchpoint): (&Journey, &Stage, &str),
        reason: impl FnOnce(&CaseRules) -> Option<Reason>,
    ) -> Option<Event> {
        let reason = reason(&journey.cases)?;
        Some(Event::Case(self.deadlines.case(Opening { event_id, at, journey, stage, touchpoint, reason })))
    }

    /// The case an anonymous channel's event names, and whether it comes
    /// with proof that the client made it: a history link's token (signed by
    /// touchpoint, handed to the ministry's page) is proof; an application
    /// number in clear is not — anyone may know one.
    fn linked(&self, checker: &Checker<'_>, raw: Option<String>) -> Result<Option<Linked>, ApiError> {
        let Some(raw) = raw else { return Ok(None) };
        if let Some(key) = self.history.case(raw.trim(), unix(checker.now)) {
            return Ok(Some(Linked { key, proven: true }));
        }
        Ok(checker.case_ref(Some(raw))?.map(|r| Linked { key: self.case_keys.key(&r), proven: false }))
    }

    /// The touch of an event that carries a case reference, and its proof
    /// when it has one; they travel with the event like a case does.
    fn touch(&self, linked: Option<Linked>, kind: EventKind, event_id: Uuid, at: u32, place: [&str; 3]) -> Vec<Event> {
        let Some(Linked { key, proven }) = linked else { return Vec::new() };
        let [journey, stage, touchpoint] = place;
        let touch = Event::Touch(TouchRow {
            event_id,
            case_key: key.0,
            at,
            journey: journey.to_string(),
            stage: stage.to_string(),
            touchpoint: touchpoint.to_string(),
            kind: kind.code(),
        });
        let proof = proven.then_some(Event::Proof(ProofRow { event_id, case_key: key.0, at }));
        std::iter::once(touch).chain(proof).collect()
    }

    /// Stores what is new among `submissions`, all or nothing.
    async fn submit(&self, submissions: Vec<Submission>) -> Result<Vec<Outcome>, ApiError> {
        self.sink.submit(submissions).await.map_err(busy)
    }
}

/// A client's case an event names ([`Capture::touch`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linked {
    pub key: CaseKey,
    /// The client's own history page shows the event (`case_proofs`): a
    /// reference signed by touchpoint, or a letter's signed link. Staff
    /// channels and a letter's rating links are proven by their kind.
    pub proven: bool,
}

impl Linked {
    /// A reference from a staff system or a signed link: proven by how it came.
    pub fn known(key: CaseKey) -> Linked {
        Linked { key, proven: false }
    }
}

fn busy(_: Refused) -> ApiError {
    ApiError::Overloaded { retry_after: BUSY_RETRY }
}

pub fn public_router(capture: Capture, metrics: Arc<Metrics>) -> OpenApiRouter {
    let sites = capture.sites.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            sites.values().any(|site| origin_allowed(&site.origins, origin))
        }))
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    let stack = ServiceBuilder::new()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors)
        .layer(GuardLayer::public(metrics, capture.limits.clone()));
    // A rating link's pages show its own letter and take a comment.
    let links = OpenApiRouter::new()
        .routes(routes!(email::click, email::comment))
        .layer(middleware::from_fn(crate::web::same_origin_forms))
        .layer(tower::util::MapResponseLayer::new(crate::web::private_pages));
    OpenApiRouter::new()
        .routes(routes!(feedback))
        .routes(routes!(timings))
        .routes(routes!(answers::answers))
        .routes(routes!(offers::offers))
        .merge(links)
        .layer(stack)
        .with_state(capture)
}

/// Endpoints for the ministry's own systems (call centre, mail desk): counted
/// in `metrics`, bearer token, no CORS (never called from a browser page).
pub fn staff_router(capture: Capture, metrics: Arc<Metrics>) -> OpenApiRouter {
    let stack = ServiceBuilder::new()
        .layer(GuardLayer::counting(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(capture.clone(), staff::require_token));
    OpenApiRouter::new()
        .routes(routes!(staff::calls))
        .routes(routes!(staff::correspondence))
        .routes(routes!(email::links))
        .layer(stack)
        .with_state(capture)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    event_id: Uuid,
}

/// The 202 of a rating that opened a case.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AcceptedCase {
    event_id: Uuid,
    /// The client's link to follow the case and rate the answer.
    follow_url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AcceptedMany {
    /// In the order sent.
    event_ids: Vec<Uuid>,
}

/// One timing, or an array of 1–50 (all accepted or none).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the body for the OpenAPI document only
enum TimingsBody {
    One(TimingInput),
    Many(Vec<TimingInput>),
}

fn accepted<T: Serialize>(body: T) -> Response {
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// The 202 of one event, `{"event_id":"…"}` as [`Accepted`] serializes,
/// written straight into its buffer: the answer to every single rating, where
/// serde's generic path showed in the profile.
fn accepted_one(event_id: Uuid) -> Response {
    let mut body = Vec::with_capacity(52);
    body.extend_from_slice(br#"{"event_id":""#);
    body.extend_from_slice(event_id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    body.extend_from_slice(br#""}"#);
    let json = HeaderValue::from_static("application/json");
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, json)], body).into_response()
}

/// The 202 of a rating that opened a case, as [`AcceptedCase`] serializes;
/// written directly like [`accepted_one`]. The link needs no JSON escaping:
/// the configured base URL and base64url (`email.public_url` is a parsed URL).
fn accepted_case(event_id: Uuid, follow_url: &str) -> Response {
    if follow_url.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return accepted(AcceptedCase { event_id, follow_url: follow_url.to_string() });
    }
    let mut body = Vec::with_capacity(70 + follow_url.len());
    body.extend_from_slice(br#"{"event_id":""#);
    body.extend_from_slice(event_id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    body.extend_from_slice(br#"","follow_url":""#);
    body.extend_from_slice(follow_url.as_bytes());
    body.extend_from_slice(br#""}"#);
    let json = HeaderValue::from_static("application/json");
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, json)], body).into_response()
}

/// `POST /api/v1/feedback`: JSON answers JSON; the no-JS form answers a page.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "capture",
    request_body(content(
        (FeedbackInput = "application/json"),
        (FeedbackInput = "application/x-www-form-urlencoded"),
    ), description = "JSON (also as text/plain, for sendBeacon), or the no-JavaScript form"),
    responses(
        (status = 202, description = "On disk, on its way to ClickHouse; a repeated event id is answered the same and stored once (JSON requests); `follow_url` when the rating opened a case", body = AcceptedCase),
        (status = 200, description = "Thank-you page (form requests)", content_type = "text/html"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "The page's origin may not post for this site", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON nor a form", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(site, journey, stage))]
async fn feedback(
    State(capture): State<Capture>,
    caller: Caller,
    body: Result<JsonOrForm<FeedbackInput>, ApiError>,
) -> Response {
    let (input, kind) = match body {
        Ok(JsonOrForm { value, kind }) => (value, kind),
        Err(e) if caller.form => return pages::error(false, e),
        Err(e) => return e.into_response(),
    };
    let en = pages::is_english(input.locale.as_deref());
    match accept_feedback(&capture, &caller, input).await {
        Ok((id, follow)) if kind == BodyKind::Form => {
            tracing::debug!(%id, "feedback accepted from a form");
            pages::thanks(en, None, follow.as_deref())
        }
        Ok((event_id, None)) => accepted_one(event_id),
        Ok((event_id, Some(follow_url))) => accepted_case(event_id, &follow_url),
        Err(e) if kind == BodyKind::Form => pages::error(en, e),
        Err(e) => e.into_response(),
    }
}

/// The rating's id, and the follow link of the case it opened, if it did.
async fn accept_feedback(
    capture: &Capture,
    caller: &Caller,
    input: FeedbackInput,
) -> Result<(Uuid, Option<String>), ApiError> {
    let span = tracing::Span::current();
    span.record("site", input.site.as_str())
        .record("journey", input.journey.as_str())
        .record("stage", input.stage.as_str());
    let mut input = input;
    let site = capture.site(&input.site, caller, "")?;
    let catalog = capture.catalog.get();
    let checker = capture.checker(&catalog, site, capture.now(), String::new());
    let reference = capture.linked(&checker, input.case_ref.take())?;
    let (row, place) = checker.feedback(input)?;
    capture.limits.check_site(&row.site)?;
    let id = row.event_id;
    let at = (place.journey, place.stage, place.touchpoint.id.as_str());
    let scale = Scale::from_code(row.scale);
    let case = capture.case(id, row.received_at, at, |rules| rules.rating(scale?, row.score, &row.tags));
    let follow = case.as_ref().map(|_| capture.follow.url(id, row.received_at));
    let touch =
        capture.touch(reference, EventKind::Rating, id, row.occurred_at, [&row.journey, &row.stage, &row.touchpoint]);
    let submission = Submission { event: Event::Feedback(row), attached: case.into_iter().chain(touch).collect() };
    let outcomes = capture.submit(vec![submission]).await?;
    Ok((id, follow.filter(|_| first_post(&outcomes))))
}

/// Whether a submission was new. A follow link goes to the first post of an
/// event only: whoever repeats a known id (a retry, or someone who learnt
/// the id) gets the 202 without it.
pub(crate) fn first_post(outcomes: &[crate::ingest::Outcome]) -> bool {
    outcomes.first() == Some(&crate::ingest::Outcome::Stored)
}

/// `POST /api/v1/timings`: one event, or an array of up to 50 (all or none).
#[utoipa::path(post, path = "/api/v1/timings", tag = "capture",
    request_body(content = TimingsBody, description = "JSON (also as text/plain, for sendBeacon)"),
    responses(
        (status = 202, description = "On disk: `event_id` for one event, `event_ids` for an array; repeated ids are stored once", body = AcceptedMany),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "The page's origin may not post for this site", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it, e.g. `[3].duration_ms`", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
async fn timings(
    State(capture): State<Capture>,
    caller: Caller,
    RawJson(bytes): RawJson,
) -> Result<Response, ApiError> {
    let many = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let inputs: Vec<TimingInput> = if many { parse_json(&bytes)? } else { vec![parse_json(&bytes)?] };
    if inputs.is_empty() || inputs.len() > MAX_TIMINGS_PER_REQUEST {
        return Err(ApiError::invalid("[]", format!("send 1 to {MAX_TIMINGS_PER_REQUEST} events")));
    }
    let now = capture.now();
    let mut rows = Vec::with_capacity(inputs.len());
    let catalog = capture.catalog.get();
    for (i, mut input) in inputs.into_iter().enumerate() {
        let prefix = if many { format!("[{i}].") } else { String::new() };
        let site = capture.site(&input.site, &caller, &prefix)?;
        let checker = capture.checker(&catalog, site, now, prefix);
        let reference = capture.linked(&checker, input.case_ref.take())?;
        rows.push((checker.timing(input)?, reference));
    }
    let mut sites: Vec<&str> = rows.iter().map(|(r, _)| r.site.as_str()).collect();
    sites.dedup();
    for site in sites {
        capture.limits.check_site(site)?;
    }
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.event_id).collect();
    let submissions = rows.into_iter().map(|(r, reference)| {
        let place = [r.journey.as_str(), &r.stage, &r.touchpoint];
        let touch = capture.touch(reference, EventKind::Timing, r.event_id, r.occurred_at, place);
        Submission { event: Event::Timing(r), attached: touch }
    });
    capture.submit(submissions.collect()).await?;
    Ok(if many { accepted(AcceptedMany { event_ids: ids }) } else { accepted_one(ids[0]) })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    use axum::body::Body;
    use axum::http::Request;
    use tower::Service as _;

    use super::*;
    use crate::ingest::port::BoxFuture;
    use crate::ingest::{DedupeOptions, Deduped, Memory, Outbox};
    use crate::storage::rows::FeedbackRow;

    /// The spool's place, in memory.
    #[derive(Default)]
    struct InMemory(Mutex<Vec<Event>>);

    impl Outbox for InMemory {
        fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), Refused>> {
            self.0.lock().unwrap().extend(events);
            Box::pin(std::future::ready(Ok(())))
        }
    }

    /// 2033-05-18T03:33:20Z: far from any day this test runs on.
    const NOW: u64 = 2_000_000_000;

    fn router(outbox: Arc<InMemory>) -> axum::Router {
        let mut config = Config::default();
        let site = SiteConfig { journeys: vec!["scrap-metal-licensing".into()], origins: vec![] };
        config.sites.insert("demo".into(), site);
        let catalog = Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap();
        let clock: Clock = Arc::new(|| UNIX_EPOCH + Duration::from_secs(NOW));
        let window = Duration::from_secs(3600);
        let memory = Arc::new(Memory::new(DedupeOptions { window, update_window: window, max_ids: 100 }));
        let sink = Arc::new(Deduped::new(memory, outbox, clock.clone()));
        let links = Links {
            follow: Arc::new(crate::follow::FollowLinks::new(None, window, "http://x")),
            history: Arc::new(crate::dossiers::HistoryLinks::new(None, window, "http://x")),
            keys: CaseKeys::new(None, None),
        };
        let capture = Capture::new(&config, crate::journeys::Live::new(catalog), sink, "http://x".into(), clock, links);
        public_router(capture, Metrics::new()).split_for_parts().0
    }

    fn rating(id: Uuid, days_ago: u64) -> String {
        let at = UNIX_EPOCH + Duration::from_secs(NOW - days_ago * 86_400);
        serde_json::json!({
            "event_id": id, "site": "demo", "journey": "scrap-metal-licensing", "stage": "information_search",
            "touchpoint": "site", "scale": "csat", "score": 4,
            "occurred_at": humantime::format_rfc3339_seconds(at).to_string()
        })
        .to_string()
    }

    async fn post(router: &mut axum::Router, body: String) -> StatusCode {
        let mut request = Request::post("/api/v1/feedback")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        router.call(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn a_rating_that_opens_a_case_is_answered_as_accepted_case_serializes() {
        let id = Uuid::new_v4();
        for url in ["https://tp.example/follow/AbC-_09", "http://x/\"quoted\"\\"] {
            let response = accepted_case(id, url);
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
            let expected = AcceptedCase { event_id: id, follow_url: url.to_string() };
            assert_eq!(body, serde_json::to_vec(&expected).unwrap(), "{url}");
        }
    }

    #[tokio::test]
    async fn a_single_event_is_answered_as_accepted_serializes() {
        let id = Uuid::new_v4();
        let response = accepted_one(id);
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(body, serde_json::to_vec(&Accepted { event_id: id }).unwrap());
    }

    #[tokio::test]
    async fn the_router_judges_times_by_its_clock_and_stores_a_repeat_once() {
        let outbox = Arc::new(InMemory::default());
        let mut router = router(outbox.clone());
        let id = Uuid::new_v4();

        assert_eq!(post(&mut router, rating(id, 1)).await, StatusCode::ACCEPTED);
        assert_eq!(post(&mut router, rating(id, 1)).await, StatusCode::ACCEPTED, "a repeat is answered the same");
        assert_eq!(post(&mut router, rating(Uuid::new_v4(), 8)).await, StatusCode::UNPROCESSABLE_ENTITY);

        let events = outbox.0.lock().unwrap();
        let [Event::Feedback(FeedbackRow { event_id, occurred_at, received_at, .. })] = &events[..] else {
            panic!("one row stored: {events:?}")
        };
        assert_eq!((*event_id, *occurred_at, *received_at), (id, (NOW - 86_400) as u32, NOW as u32));
    }
}
