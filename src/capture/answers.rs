//! `POST /api/v1/answers`: a response to a stage's question set (the five
//! "Ваш контроль" criteria or the stage's own questions), from the widget's
//! set, the no-JavaScript set form, or a site's own code. Checked once into
//! an [`AnswersRow`]; the lowest answer opens a case as a rating would.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::caller::Caller;
use super::events::{Checker, MAX_COMMENT_CHARS, Place};
use super::{Capture, accepted_case, accepted_one, pages};
use crate::domain::questions::{AnswerInput, Answers};
use crate::domain::{EventKind, QuestionSet, Scale, Segment};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{RawBody, parse_json};
use crate::ingest::Submission;
use crate::storage::rows::{AnswersRow, Event};

/// Form fields named `a.<question>` carry that question's score.
pub const FORM_PREFIX: &str = "a.";

/// `POST /api/v1/answers`: one client's answers to a stage's question set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersInput {
    /// Made by the client; a retry with the same id is stored once.
    pub event_id: Uuid,
    pub site: String,
    pub journey: String,
    /// A stage whose journey file gives it a question set.
    pub stage: String,
    pub touchpoint: String,
    /// The questions answered; a question left out (or with a null score) was
    /// skipped and is stored as skipped, never as a score.
    pub answers: Vec<AnswerInput>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub segment: Option<Segment>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub page_path: Option<String>,
    /// When the contact happened (RFC 3339); default: now.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// As for a rating: the client's case reference, kept only as its keyed hash.
    #[serde(default)]
    pub case_ref: Option<String>,
}

impl<'a> Checker<'a> {
    /// The row of a response, its checked answers, and where it was given.
    pub fn answers(&self, input: AnswersInput) -> Result<(AnswersRow, Answers, Place<'a>), ApiError> {
        let place = self.place(&input.site, &input.journey, &input.stage, &input.touchpoint)?;
        let set = stage_set(place.stage)?;
        let answers = set.answers("answers", input.answers)?;
        let row = AnswersRow {
            event_id: input.event_id,
            occurred_at: self.occurred_at(input.occurred_at.as_deref())?,
            received_at: crate::domain::time::unix(self.now),
            site: input.site,
            journey: place.journey.id.clone(),
            stage: place.stage.id.clone(),
            touchpoint: place.touchpoint.id.clone(),
            channel: place.touchpoint.channel.name(),
            segment: Segment::code(input.segment),
            question_set: set.kind.as_str().to_string(),
            questions: answers.questions(),
            scores: answers.scores(),
            comment: self.text("comment", input.comment, MAX_COMMENT_CHARS)?,
            locale: self.text("locale", input.locale, 35)?,
            session_id: self.text("session_id", input.session_id, 128)?,
            page_path: self.page_path(input.page_path)?,
        };
        Ok((row, answers, place))
    }
}

/// The set a stage asks, or a 422 naming `stage`.
pub fn stage_set(stage: &crate::journeys::model::Stage) -> Result<QuestionSet, ApiError> {
    stage.question_set().ok_or_else(|| {
        ApiError::invalid("stage", format!("stage {:?} asks no question set (its journey file gives none)", stage.id))
    })
}

#[utoipa::path(post, path = "/api/v1/answers", tag = "capture",
    request_body(content(
        (AnswersInput = "application/json"),
        (AnswersInput = "application/x-www-form-urlencoded"),
    ), description = "JSON (also as text/plain, for sendBeacon), or the no-JavaScript set form: `a.<question>=<score>` per answer"),
    responses(
        (status = 202, description = "On disk; a repeated event id is answered the same and stored once; `follow_url` when a low answer opened a case", body = super::AcceptedCase),
        (status = 200, description = "Thank-you page (form requests)", content_type = "text/html"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "The page's origin may not post for this site", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it, e.g. `answers[2].score`", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The spool is busy or at its disk cap; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn answers(State(capture): State<Capture>, caller: Caller, body: Result<RawBody, ApiError>) -> Response {
    let form = caller.form;
    let input = body.and_then(|RawBody(bytes)| if form { from_form(&bytes) } else { parse_json(&bytes) });
    let input: AnswersInput = match input {
        Ok(input) => input,
        Err(e) if form => return pages::error(false, e),
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    let en = pages::is_english(input.locale.as_deref());
    match accept(&capture, &caller, input).await {
        Ok((_, follow)) if form => pages::thanks(en, None, follow.as_deref()),
        Ok((id, None)) => accepted_one(id),
        Ok((id, Some(follow))) => accepted_case(id, &follow),
        Err(e) if form => pages::error(en, e),
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// The response's id, and the follow link of the case it opened, if it did.
async fn accept(capture: &Capture, caller: &Caller, input: AnswersInput) -> Result<(Uuid, Option<String>), ApiError> {
    let mut input = input;
    let site = capture.site(&input.site, caller, "")?;
    let catalog = capture.catalog.get();
    let checker = capture.checker(&catalog, site, capture.now(), String::new());
    let reference = capture.linked(&checker, input.case_ref.take())?;
    let (row, answers, place) = checker.answers(input)?;
    capture.limits.check_site(&row.site)?;
    let id = row.event_id;
    let at = (place.journey, place.stage, place.touchpoint.id.as_str());
    // The lowest answer judged as a 1–5 rating: a client unhappy with one
    // criterion gets an answer like one who rated the contact low.
    let case = capture.case(id, row.received_at, at, |rules| rules.rating(Scale::Csat, answers.lowest(), &[]));
    let follow = case.as_ref().map(|_| capture.follow.url(id, row.received_at));
    let touch =
        capture.touch(reference, EventKind::Answers, id, row.occurred_at, [&row.journey, &row.stage, &row.touchpoint]);
    let attached = case.into_iter().chain(touch).collect();
    let outcomes = capture.submit(vec![Submission { event: Event::Answers(row), attached }]).await?;
    Ok((id, follow.filter(|_| super::first_post(&outcomes))))
}

/// The set form's fields as the JSON body: `a.<question>` fields become
/// `answers`, the others stay as they are.
fn from_form(bytes: &[u8]) -> Result<AnswersInput, ApiError> {
    let (answers, rest) = form_answers(bytes)?;
    let mut object: serde_json::Map<String, Value> = rest.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let answers = answers.into_iter().map(|a| serde_json::json!({ "question": a.question, "score": a.score }));
    object.insert("answers".into(), Value::Array(answers.collect()));
    parse_json(&serde_json::to_vec(&object).map_err(|e| ApiError::Internal(e.into()))?)
}

/// A form's fields other than its answers, in their order.
pub type Fields = Vec<(String, String)>;

/// A set form's answers (`a.<question>=<score>`, empty: skipped), and its
/// other fields.
pub fn form_answers(bytes: &[u8]) -> Result<(Vec<AnswerInput>, Fields), ApiError> {
    let pairs: Vec<(String, String)> = serde_html_form::from_bytes(bytes)
        .map_err(|e| ApiError::Malformed { message: format!("cannot read the form: {e}") })?;
    let mut answers = Vec::new();
    let mut rest = Vec::new();
    for (key, value) in pairs {
        let Some(question) = key.strip_prefix(FORM_PREFIX) else {
            rest.push((key, value));
            continue;
        };
        let score = match value.trim() {
            "" => None,
            text => Some(text.parse::<i64>().map_err(|_| {
                ApiError::invalid(format!("answers[{}].score", answers.len()), format!("{question:?}: a number"))
            })?),
        };
        answers.push(AnswerInput { question: Some(question.to_string()), score });
    }
    Ok((answers, rest))
}
