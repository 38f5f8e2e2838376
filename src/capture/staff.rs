//! Staff endpoints: the phone log and the written-channel timeline, behind a
//! bearer token.

use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::events::{find_journey, find_stage, find_touchpoint};
use super::{Capture, accepted};
use crate::config::StaffToken;
use crate::domain::questions::Answers;
use crate::domain::text::bounded;
use crate::domain::time::{self, STAFF_MAX_AGE, unix};
use crate::domain::{CaseRef, EventKind, Scale, Segment, SetKind};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::ingest::Submission;
use crate::journeys::Catalog;
use crate::journeys::model::{Journey, Stage};
use crate::storage::rows::{AnswersRow, CallRow, Event, FeedbackRow, LetterRow, Rating};

/// The register id of the phone touchpoint: every call of the log happens there.
const PHONE: &str = "phone";
/// The order's phone standard (3.2.4): at most two transfers.
pub const MAX_TRANSFERS: u8 = 2;
/// Longest wait or talk of one call: a day.
pub const MAX_CALL_SECONDS: u32 = 24 * 3600;

/// Hashes of the configured tokens: comparing fixed-size digests in constant
/// time reveals neither the tokens nor their lengths.
pub struct StaffTokens(Vec<(String, [u8; 32])>);

impl StaffTokens {
    pub fn new(tokens: &[StaffToken]) -> StaffTokens {
        StaffTokens(tokens.iter().map(|t| (t.name.clone(), digest(t.token.expose_secret()))).collect())
    }

    /// The name of the token presented, if it is one of ours.
    fn holder(&self, presented: &str) -> Option<&str> {
        let presented = digest(presented);
        let mut holder = None;
        // Every token is compared, so the time taken does not tell which matched.
        for (name, token) in &self.0 {
            if bool::from(token.ct_eq(&presented)) {
                holder = Some(name.as_str());
            }
        }
        holder
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Middleware of the staff routes.
pub async fn require_token(State(capture): State<Capture>, request: Request, next: Next) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let holder = capture.staff.holder(presented.trim()).ok_or(ApiError::Unauthorized)?;
    tracing::info!(staff = holder, path = %request.uri().path(), "staff request");
    Ok(next.run(request).await)
}

fn staff_time(field: &str, text: &str, now: SystemTime) -> Result<u32, ApiError> {
    Ok(time::within(field, text, now, STAFF_MAX_AGE)?)
}

impl Capture {
    /// An optional journey and stage, both known when given.
    /// The journey and stage an event names; both or neither.
    fn stage_of(
        catalog: &Catalog,
        journey: Option<String>,
        stage: Option<String>,
    ) -> Result<Option<(&Journey, &Stage)>, ApiError> {
        match (journey, stage) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ApiError::invalid("stage", "give the stage with the journey")),
            (None, Some(_)) => Err(ApiError::invalid("journey", "give the journey with the stage")),
            (Some(j), Some(s)) => {
                let journey = find_journey(catalog, "", &j)?;
                Ok(Some((journey, find_stage(journey, "", &s)?)))
            }
        }
    }

    fn process(&self, field: &str, process: Option<String>) -> Result<String, ApiError> {
        let process = process.unwrap_or_default();
        if !process.is_empty() && !self.catalog.get().register.processes.iter().any(|p| p.id == process) {
            return Err(ApiError::invalid(field, format!("unknown process {process:?}: not in the register")));
        }
        Ok(process)
    }
}

/// A rating asked at the end of a call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRating {
    pub scale: Scale,
    pub score: u8,
}

/// `POST /api/v1/calls`: one call of the phone log.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    pub event_id: Uuid,
    /// When the call started (RFC 3339).
    pub started_at: String,
    pub wait_seconds: u32,
    pub talk_seconds: u32,
    pub transfers: u8,
    pub resolved: bool,
    /// A process of the register (`informing`, `consulting`, ...).
    pub process: String,
    /// A pseudonymous operator id, never a name.
    pub operator: String,
    #[serde(default)]
    pub journey: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub segment: Option<Segment>,
    #[serde(default)]
    pub rating: Option<CallRating>,
    /// The client's answers to the stage's question set, asked at the end of
    /// the call (needs `journey` and `stage`); questions skipped are left out.
    #[serde(default)]
    pub answers: Vec<crate::domain::questions::AnswerInput>,
    /// The ministry's reference of the client's case, if the call was about
    /// one (at most 64 characters); only its keyed hash is stored.
    #[serde(default)]
    pub case_ref: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallAccepted {
    pub event_id: Uuid,
    /// More than two transfers: against 3.2.4 of the order.
    pub breaks_transfer_standard: bool,
}

#[utoipa::path(post, path = "/api/v1/calls", tag = "staff", security(("staff_token" = [])),
    request_body = CallInput,
    responses(
        (status = 202, description = "On disk; a repeated event id is answered the same and stored once", body = CallAccepted),
        (status = 401, description = "No valid staff token", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(process))]
pub async fn calls(State(capture): State<Capture>, Json(input): Json<CallInput>) -> Result<Response, ApiError> {
    tracing::Span::current().record("process", input.process.as_str());
    Ok(accepted(log_call(&capture, input).await?))
}

/// Checks and stores one call of the phone log, with the rating or answers
/// given at its end: for the API and the operators' page alike.
pub(crate) async fn log_call(capture: &Capture, input: CallInput) -> Result<CallAccepted, ApiError> {
    let now = capture.now();
    if input.process.is_empty() {
        return Err(ApiError::invalid("process", "name the register process of the call"));
    }
    let process = capture.process("process", Some(input.process))?;
    let catalog = capture.catalog.get();
    let place = Capture::stage_of(&catalog, input.journey, input.stage)?;
    let (journey, stage) = ids(place);
    let operator = bounded("operator", Some(input.operator), 64)?;
    let started_at = staff_time("started_at", &input.started_at, now)?;
    for (field, seconds) in [("wait_seconds", input.wait_seconds), ("talk_seconds", input.talk_seconds)] {
        if seconds > MAX_CALL_SECONDS {
            return Err(ApiError::invalid(field, format!("at most {MAX_CALL_SECONDS} seconds (a day)")));
        }
    }
    let rating = match input.rating {
        Some(r) => Some((r.scale, r.scale.check(r.score, "rating.score")?)),
        None => None,
    };
    let segment = Segment::code(input.segment);
    let answers = match (place, input.answers.is_empty()) {
        (_, true) => None,
        (None, false) => return Err(ApiError::invalid("answers", "give the journey and stage the questions are of")),
        (Some((_, stage)), false) => {
            let set = super::answers::stage_set(stage)?;
            Some((set.kind, set.answers("answers", input.answers)?))
        }
    };
    let call = CallRow {
        event_id: input.event_id,
        started_at,
        received_at: unix(now),
        journey: journey.clone(),
        stage: stage.clone(),
        touchpoint: PHONE.into(),
        process,
        operator,
        segment,
        wait_seconds: input.wait_seconds,
        talk_seconds: input.talk_seconds,
        transfers: input.transfers,
        resolved: u8::from(input.resolved),
        rating_scale: rating.map_or(0, |(scale, _)| scale.code()),
        rating_score: rating.map(|(_, score)| score),
    };
    let lowest = answers.as_ref().map(|(_, a)| a.lowest());
    let reason = |rules: &crate::cases::CaseRules| {
        rules
            .call(input.transfers)
            .or_else(|| rating.and_then(|(scale, score)| rules.rating(scale, score, &[])))
            .or_else(|| lowest.and_then(|score| rules.rating(Scale::Csat, score, &[])))
    };
    let case = match (place, &capture.calls_unit) {
        (Some((j, s)), _) => capture.case(input.event_id, unix(now), (j, s, PHONE), reason),
        // No journey to take rules from: the defaults, and the call centre's unit.
        (None, Some(unit)) => reason(&crate::cases::CaseRules::default()).map(|reason| {
            Event::Case(capture.deadlines.case_without_place(input.event_id, unix(now), PHONE, unit, reason))
        }),
        (None, None) => None,
    };
    let reference = CaseRef::parse("case_ref", input.case_ref)?;
    let touch = capture.touch(
        reference.map(|r| super::Linked::known(capture.case_keys.key(&r))),
        EventKind::Call,
        input.event_id,
        started_at,
        [&journey, &stage, PHONE],
    );
    let said = end_of_call(&catalog, &call, rating, answers);
    let attached = case.into_iter().chain(touch).chain(said).collect();
    capture.submit(vec![Submission { event: Event::Call(call), attached }]).await?;
    Ok(CallAccepted { event_id: input.event_id, breaks_transfer_standard: input.transfers > MAX_TRANSFERS })
}

/// What the client was asked and said at the end of `call`: the offer, the
/// rating and the set's answers, as rows at the phone touchpoint under the
/// call's id. They are client feedback like any other and count in the
/// stage's measures and response rate.
fn end_of_call(
    catalog: &Catalog,
    call: &CallRow,
    rating: Option<(Scale, u8)>,
    answers: Option<(SetKind, Answers)>,
) -> Vec<Event> {
    let Some(phone) = catalog.touchpoint(PHONE) else { return Vec::new() };
    let mut said = Vec::new();
    // A call at a stage was a chance to ask: the response rate's denominator.
    if !call.stage.is_empty() {
        said.push(super::offers::called(call, phone.channel.name()));
    }
    if let Some((scale, score)) = rating
        && !call.stage.is_empty()
    {
        let rating = Rating {
            event_id: call.event_id,
            occurred_at: call.started_at,
            received_at: call.received_at,
            journey: &call.journey,
            stage: &call.stage,
            touchpoint: &phone.id,
            channel: phone.channel,
            scale,
            score,
        };
        said.push(Event::Feedback(FeedbackRow { segment: call.segment, ..rating.row() }));
    }
    if let Some((set, answers)) = answers {
        said.push(Event::Answers(AnswersRow {
            event_id: call.event_id,
            occurred_at: call.started_at,
            received_at: call.received_at,
            // Empty: the answers travel with the call, under its id.
            site: String::new(),
            journey: call.journey.clone(),
            stage: call.stage.clone(),
            touchpoint: PHONE.into(),
            channel: phone.channel.name(),
            segment: call.segment,
            question_set: set.as_str().into(),
            questions: answers.questions(),
            scores: answers.scores(),
            comment: String::new(),
            locale: String::new(),
            session_id: String::new(),
            page_path: String::new(),
        }));
    }
    said
}

/// `POST /api/v1/correspondence`: the timeline of one letter. Send it again
/// with more times filled in as the letter is acknowledged and answered; the
/// latest update wins.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterInput {
    pub event_id: Uuid,
    /// The ministry's registration number of the letter, or another stable id.
    pub letter_id: String,
    /// A written touchpoint of the register (`email`, `post`, `edms`, `epgu`).
    pub touchpoint: String,
    pub received_at: String,
    #[serde(default)]
    pub acknowledged_at: Option<String>,
    #[serde(default)]
    pub answered_at: Option<String>,
    #[serde(default)]
    pub journey: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub process: Option<String>,
    #[serde(default)]
    pub segment: Option<Segment>,
    /// The ministry's reference of the client's case the letter is about
    /// (at most 64 characters); only its keyed hash is stored. Taken from
    /// the letter's first post: later states update the letter, not its case.
    #[serde(default)]
    pub case_ref: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/correspondence", tag = "staff", security(("staff_token" = [])),
    request_body = LetterInput,
    responses(
        (status = 202, description = "On disk; the same state posted again is stored once", body = LetterAccepted),
        (status = 401, description = "No valid staff token", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn correspondence(
    State(capture): State<Capture>,
    Json(input): Json<LetterInput>,
) -> Result<Response, ApiError> {
    let now = capture.now();
    let letter_id = bounded("letter_id", Some(input.letter_id), 128)?;
    if letter_id.is_empty() {
        return Err(ApiError::invalid("letter_id", "must not be empty"));
    }
    let catalog = capture.catalog.get();
    let touchpoint = find_touchpoint(&catalog, "touchpoint", &input.touchpoint)?;
    if !touchpoint.channel.is_written() {
        return Err(ApiError::invalid("touchpoint", format!("{:?} is not a written channel", touchpoint.id)));
    }
    let received_at = staff_time("received_at", &input.received_at, now)?;
    let later = |field: &str, value: Option<String>| -> Result<Option<u32>, ApiError> {
        let Some(text) = value else { return Ok(None) };
        let t = staff_time(field, &text, now)?;
        if t < received_at {
            return Err(ApiError::invalid(field, "is earlier than received_at"));
        }
        Ok(Some(t))
    };
    let acknowledged_at = later("acknowledged_at", input.acknowledged_at)?;
    let answered_at = later("answered_at", input.answered_at)?;
    let (journey, stage) = ids(Capture::stage_of(&catalog, input.journey, input.stage)?);
    let key = CaseRef::parse("case_ref", input.case_ref)?.map(|r| capture.case_keys.key(&r));
    let touch = capture.touch(
        key.map(super::Linked::known),
        EventKind::Letter,
        input.event_id,
        received_at,
        [&journey, &stage, &touchpoint.id],
    );
    let row = LetterRow {
        event_id: input.event_id,
        letter_id,
        received_at,
        acknowledged_at,
        answered_at,
        updated_at: unix(now),
        journey,
        stage,
        touchpoint: touchpoint.id.clone(),
        process: capture.process("process", input.process)?,
        segment: Segment::code(input.segment),
    };
    capture.submit(vec![Submission { event: Event::Letter(row), attached: touch.into_iter().collect() }]).await?;
    let history_url = key.map(|key| capture.history.url(key, unix(now)));
    Ok(accepted(LetterAccepted { event_id: input.event_id, history_url }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LetterAccepted {
    event_id: Uuid,
    /// With a `case_ref`: the client's own history of that case, to send in
    /// the answer (signed, expires after `case_refs.history_link_ttl`).
    history_url: Option<String>,
}

/// The ids of a journey and stage, empty when the event names none.
fn ids(place: Option<(&Journey, &Stage)>) -> (String, String) {
    place.map(|(j, s)| (j.id.clone(), s.id.clone())).unwrap_or_default()
}
