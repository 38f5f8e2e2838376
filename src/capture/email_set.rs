//! A letter's question-set link: one signed link (`/r/{token}` with the set
//! flag) that opens the stage's set as a page; the client's answers post back
//! to it. Every answer of a letter shares the link's event id: the first
//! response is stored, a second one is the same event and is not.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use super::answers::form_answers;
use super::email::{Claims, Links, claims_case_key};
use super::events::MAX_COMMENT_CHARS;
use super::{Capture, accepted, pages};
use crate::domain::text::bounded;
use crate::domain::time::unix;
use crate::domain::{EventKind, QuestionSet, Scale};
use crate::error::ApiError;
use crate::ingest::{EMAIL_SITE, Outcome, Submission};
use crate::journeys::model::{Journey, Stage};
use crate::storage::rows::{AnswersRow, Event};

#[derive(Template)]
#[template(path = "email_set_snippet.html")]
struct Snippet<'a> {
    en: bool,
    url: &'a str,
    count: usize,
}

/// The answer of `POST /api/v1/email-links` with `questions`: the one link.
pub(super) fn links(capture: &Capture, set: &QuestionSet, base: Claims) -> Result<Response, ApiError> {
    let claims = Claims { q: true, ..base };
    let url = format!("{}/r/{}", capture.signer.base_url, capture.signer.sign(&claims));
    let en = pages::is_english(Some(&claims.l));
    let html = Snippet { en, url: &url, count: set.questions.len() }
        .render()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("snippet template failed: {e}")))?;
    let expires = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(claims.x));
    Ok(accepted(Links {
        event_id: claims.e,
        expires_at: humantime::format_rfc3339_seconds(expires).to_string(),
        links: Vec::new(),
        questions_url: Some(url),
        html,
        history_url: claims_case_key(capture, &claims.c).map(|key| capture.history.url(key, claims.i)),
    }))
}

/// The journey, stage and set a link names, if the catalog still has them.
fn place<'c>(
    catalog: &'c crate::journeys::Catalog,
    claims: &Claims,
) -> Result<(&'c Journey, &'c Stage, QuestionSet), ApiError> {
    let gone = || ApiError::Unavailable("this link's stage no longer asks these questions".into());
    let journey = catalog.journey(&claims.j).ok_or_else(gone)?;
    let stage = journey.stages.iter().find(|s| s.id == claims.s).ok_or_else(gone)?;
    let set = stage.question_set().ok_or_else(gone)?;
    Ok((journey, stage, set))
}

/// `GET /r/{token}` of a set link: the set's form, posting back to the link.
pub(super) fn page(capture: &Capture, claims: &Claims, token: &str) -> Response {
    let en = pages::is_english(Some(&claims.l));
    let catalog = capture.catalog.get();
    let rendered = place(&catalog, claims).and_then(|(_, stage, set)| {
        let name = if en { &stage.name.en } else { &stage.name.ru };
        crate::web::set_form::render(&set, en, name, &format!("/r/{token}"), &[])
    });
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => pages::error(en, e),
    }
}

/// `POST /r/{token}` of a set link: stores the answers once.
pub(super) async fn answer(capture: &Capture, claims: &Claims, body: &[u8]) -> Response {
    let en = pages::is_english(Some(&claims.l));
    match record(capture, claims, body).await {
        Ok(follow) => pages::thanks(en, None, follow.as_deref()),
        Err(e) => pages::error(en, e),
    }
}

async fn record(capture: &Capture, claims: &Claims, body: &[u8]) -> Result<Option<String>, ApiError> {
    let (sent, rest) = form_answers(body)?;
    let mut comment = None;
    for (key, value) in rest {
        match key.as_str() {
            "comment" => comment = Some(value),
            other => return Err(ApiError::invalid(other, "this form has no such field")),
        }
    }
    let catalog = capture.catalog.get();
    let (journey, stage, set) = place(&catalog, claims)?;
    let touchpoint = catalog
        .touchpoint(&claims.t)
        .ok_or_else(|| ApiError::Unavailable("this link's touchpoint is no longer in the register".into()))?;
    let answers = set.answers("answers", sent)?;
    let received_at = unix(capture.now());
    let row = AnswersRow {
        event_id: claims.e,
        occurred_at: claims.i,
        received_at,
        site: EMAIL_SITE.into(),
        journey: journey.id.clone(),
        stage: stage.id.clone(),
        touchpoint: touchpoint.id.clone(),
        channel: touchpoint.channel.name(),
        segment: crate::domain::Segment::code(None),
        question_set: set.kind.as_str().into(),
        questions: answers.questions(),
        scores: answers.scores(),
        comment: bounded("comment", comment, MAX_COMMENT_CHARS)?,
        locale: claims.l.clone(),
        session_id: String::new(),
        page_path: String::new(),
    };
    let at = (journey, stage, touchpoint.id.as_str());
    let case = capture.case(claims.e, received_at, at, |rules| rules.rating(Scale::Csat, answers.lowest(), &[]));
    let opens = case.is_some();
    let key = claims_case_key(capture, &claims.c);
    // The letter's signed link is the proof: the client's page shows it.
    let linked = key.map(|key| super::Linked { key, proven: true });
    let touch = capture.touch(linked, EventKind::Answers, claims.e, claims.i, [&journey.id, &stage.id, &touchpoint.id]);
    let attached = case.into_iter().chain(touch).collect();
    let outcomes = capture.submit(vec![Submission { event: Event::Answers(row), attached }]).await?;
    let first = outcomes.first() == Some(&Outcome::Stored);
    Ok((opens && first).then(|| capture.follow.url(claims.e, received_at)))
}
