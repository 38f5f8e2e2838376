//! One-click rating links for letters: a staff system asks for the links of a
//! case, pastes the HTML into the letter, and the client's click records the
//! rating. Tokens are HMAC-signed and expire; every link of a case shares one
//! event id, so a second click is a new state of the same e-mail rating
//! (`ingest`): it replaces the first, and the same click twice is stored once.

use std::time::{Duration, SystemTime};

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::events::{find_journey, find_stage, find_touchpoint};
use super::{Capture, accepted, pages};
use crate::config::EmailConfig;
use crate::domain::text::bounded;
use crate::domain::time::unix;
use crate::domain::{CaseKey, CaseRef, EventKind, Scale};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, RawBody, parse_form};
use crate::ingest::{EMAIL_SITE, Submission};
use crate::storage::rows::{Event, FeedbackRow, Rating, TouchRow};

/// Signs and checks rating tokens.
pub struct Signer {
    sealer: crate::signed::Sealer,
    ttl: Duration,
    /// Where links point, without a trailing slash.
    pub(super) base_url: String,
}

/// What a token carries; short keys keep the links short.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct Claims {
    /// Event id shared by the case's links.
    pub(super) e: Uuid,
    pub(super) j: String,
    pub(super) s: String,
    pub(super) t: String,
    /// The case reference's keyed hash as `#` and 32 hex digits; empty for
    /// none. (Links made before issue 14 carry the reference in clear.)
    pub(super) c: String,
    pub(super) k: Scale,
    /// The score this link records.
    pub(super) v: u8,
    /// Issued at, seconds: the rating's `occurred_at`, equal for all links so
    /// that they collapse.
    pub(super) i: u32,
    /// Expires at, seconds.
    pub(super) x: u32,
    /// Locale of the pages.
    pub(super) l: String,
    /// The link opens the stage's question set (one link for the letter)
    /// instead of recording the score `v`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) q: bool,
}

#[derive(Debug, PartialEq)]
pub enum TokenError {
    Malformed,
    Forged,
    Expired,
}

impl Signer {
    pub fn new(config: &EmailConfig, base_url: String) -> Signer {
        let key = config.secret.clone().unwrap_or_else(|| {
            tracing::warn!(
                "email.secret is not set: rating links are signed with a random key and stop working at restart"
            );
            SecretString::from(format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()))
        });
        let sealer = crate::signed::Sealer::new(&key);
        Signer { sealer, ttl: config.link_ttl, base_url: base_url.trim_end_matches('/').to_string() }
    }

    pub(super) fn sign(&self, claims: &Claims) -> String {
        self.sealer.seal(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize")))
    }

    fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, TokenError> {
        let payload = self.sealer.open(token).map_err(|e| match e {
            crate::signed::Unsealed::Malformed => TokenError::Malformed,
            crate::signed::Unsealed::Forged => TokenError::Forged,
        })?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        if unix(now) > claims.x {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// `POST /api/v1/email-links`: the links of one case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinksInput {
    pub journey: String,
    pub stage: String,
    /// The touchpoint the letter belongs to; default `email`.
    #[serde(default)]
    pub touchpoint: Option<String>,
    /// The ministry's reference of the client's case (at most 64
    /// characters): links the rating to the case's other contacts. Only its
    /// keyed hash is stored, and only that goes into the links.
    #[serde(default)]
    pub case_ref: Option<String>,
    #[serde(default)]
    pub scale: Option<Scale>,
    /// `true`: one link that opens the stage's question set (the five
    /// criteria or the stage's own questions) instead of one link per score.
    #[serde(default)]
    pub questions: bool,
    /// `ru` (default) or `en`, for the snippet and the pages.
    #[serde(default)]
    pub locale: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Link {
    score: u8,
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Links {
    pub(super) event_id: Uuid,
    pub(super) expires_at: String,
    /// One per score; empty for a question-set link.
    pub(super) links: Vec<Link>,
    /// With `questions`: the one link that opens the set.
    pub(super) questions_url: Option<String>,
    /// Table-based HTML to paste into the letter: no script, no images.
    pub(super) html: String,
    /// With a `case_ref`: the client's own history of that case, to send
    /// along (signed, expires after `case_refs.history_link_ttl`).
    pub(super) history_url: Option<String>,
}

#[derive(Template)]
#[template(path = "email_snippet.html")]
struct Snippet<'a> {
    en: bool,
    links: &'a [Link],
    scale: Scale,
}

impl Snippet<'_> {
    fn label(&self, score: &u8) -> String {
        let score = *score;
        let (lo, hi) = self.scale.range();
        match (self.scale, self.en) {
            (Scale::Thumbs, false) => {
                if score == 1 {
                    "👍 Да".into()
                } else {
                    "👎 Нет".into()
                }
            }
            (Scale::Thumbs, true) => {
                if score == 1 {
                    "👍 Yes".into()
                } else {
                    "👎 No".into()
                }
            }
            _ if score == lo && !self.en => format!("{score} — плохо"),
            _ if score == lo => format!("{score} — poor"),
            _ if score == hi && !self.en => format!("{score} — отлично"),
            _ if score == hi => format!("{score} — excellent"),
            _ => score.to_string(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/email-links", tag = "staff", security(("staff_token" = [])),
    request_body = LinksInput,
    responses(
        (status = 202, description = "One signed link per score, and an HTML snippet", body = Links),
        (status = 401, description = "No valid staff token", body = ErrorBody),
        (status = 422, description = "A wrong value; `field` names it", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn links(State(capture): State<Capture>, Json(input): Json<LinksInput>) -> Result<Response, ApiError> {
    let catalog = capture.catalog.get();
    let journey = find_journey(&catalog, "", &input.journey)?;
    let stage = find_stage(journey, "", &input.stage)?;
    let touchpoint = find_touchpoint(&catalog, "touchpoint", input.touchpoint.as_deref().unwrap_or("email"))?;
    let case_key = CaseRef::parse("case_ref", input.case_ref)?.map(|r| capture.case_keys.key(&r));
    let locale = bounded("locale", Some(input.locale.unwrap_or_else(|| "ru".into())), 35)?;
    let scale = input.scale.unwrap_or(Scale::Csat);
    let signer = &capture.signer;
    let now = capture.now();
    let expires = now + signer.ttl;
    let base = Claims {
        e: Uuid::new_v4(),
        j: journey.id.clone(),
        s: stage.id.clone(),
        t: touchpoint.id.clone(),
        c: case_key.map(|k| format!("#{k}")).unwrap_or_default(),
        k: scale,
        v: 0,
        i: unix(now),
        x: unix(expires),
        l: locale,
        q: false,
    };
    if input.questions {
        let set = super::answers::stage_set(stage)?;
        super::offers::sent(&capture, base.e, base.i, (&journey.id, &stage.id, touchpoint), set.kind.as_str()).await?;
        return super::email_set::links(&capture, &set, base);
    }
    super::offers::sent(&capture, base.e, base.i, (&journey.id, &stage.id, touchpoint), "").await?;
    let (lo, hi) = scale.range();
    let links: Vec<Link> = (lo..=hi)
        .map(|score| Link {
            score,
            url: format!("{}/r/{}", signer.base_url, signer.sign(&Claims { v: score, ..base.clone() })),
        })
        .collect();
    let en = pages::is_english(Some(&base.l));
    let html = Snippet { en, links: &links, scale }
        .render()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("snippet template failed: {e}")))?;
    Ok(accepted(Links {
        event_id: base.e,
        expires_at: humantime::format_rfc3339_seconds(expires).to_string(),
        links,
        questions_url: None,
        html,
        history_url: case_key.map(|key| capture.history.url(key, unix(now))),
    }))
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Malformed => {
            ApiError::Malformed { message: "this rating link is damaged; copy the whole link from the letter".into() }
        }
        TokenError::Forged => {
            ApiError::Forbidden { field: "token", message: "this rating link is not one of ours".into() }
        }
        TokenError::Expired => {
            ApiError::Invalid { field: "token".into(), message: "this rating link has expired".into() }
        }
    }
}

/// Records a click (or its comment); the follow link when this click opened a case.
async fn record(capture: &Capture, claims: &Claims, comment: String) -> Result<Option<String>, ApiError> {
    let catalog = capture.catalog.get();
    let touchpoint = catalog
        .touchpoint(&claims.t)
        .ok_or_else(|| ApiError::Unavailable("this link's touchpoint is no longer in the register".into()))?;
    let score = claims.k.check(claims.v, "token")?;
    let comment = bounded("comment", Some(comment), super::events::MAX_COMMENT_CHARS)?;
    let rating = Rating {
        event_id: claims.e,
        occurred_at: claims.i,
        received_at: unix(capture.now()),
        journey: &claims.j,
        stage: &claims.s,
        touchpoint: &touchpoint.id,
        channel: touchpoint.channel,
        scale: claims.k,
        score,
    };
    // No tags and no reported time, as in `rating.row()`: the one rating ever
    // replaced carries neither, so recommendations::measures needs no FINAL.
    let row = FeedbackRow { site: EMAIL_SITE.into(), comment, locale: claims.l.clone(), ..rating.row() };
    let touch = claims_case_key(capture, &claims.c).map(|key| {
        Event::Touch(TouchRow {
            event_id: claims.e,
            case_key: key.0,
            at: claims.i,
            journey: claims.j.clone(),
            stage: claims.s.clone(),
            touchpoint: touchpoint.id.clone(),
            kind: EventKind::EmailRating.code(),
        })
    });
    // A later click (or the comment) is a new state of the same event id: the
    // sink moves its version past the last one and takes the previous score
    // back out of the rollup, and drops the case: one opens with the first
    // click only. The same click again is stored once.
    let received_at = row.received_at;
    // A journey or stage gone from the catalog since the letter: the rating
    // is kept, no case opens.
    let journey = catalog.journey(&claims.j);
    let stage = journey.and_then(|j| j.stages.iter().find(|s| s.id == claims.s));
    let case = journey.zip(stage).and_then(|(journey, stage)| {
        let at = (journey, stage, touchpoint.id.as_str());
        capture.case(claims.e, received_at, at, |rules| rules.rating(claims.k, score, &[]))
    });
    let opens = case.is_some();
    let submission = Submission { event: Event::Feedback(row), attached: case.into_iter().chain(touch).collect() };
    let outcomes = capture.submit(vec![submission]).await?;
    let first = outcomes.first().is_some_and(|o| *o != crate::ingest::Outcome::Updated);
    Ok((opens && first).then(|| capture.follow.url(claims.e, received_at)))
}

/// The case key a token's `c` names: `#` and its hex, or (a link made
/// before keys) the reference in clear, hashed now.
pub(super) fn claims_case_key(capture: &Capture, c: &str) -> Option<CaseKey> {
    match c.strip_prefix('#') {
        Some(hex) => hex.parse().ok(),
        None => CaseRef::parse("case_ref", Some(c.to_string())).ok().flatten().map(|r| capture.case_keys.key(&r)),
    }
}

/// `GET /r/{token}`: the click in the letter.
#[utoipa::path(get, path = "/r/{token}", tag = "capture",
    params(("token" = String, Path, description = "The signed token of one score's link")),
    responses(
        (status = 200, description = "Recorded; a thank-you page with a comment form", content_type = "text/html"),
        (status = 400, description = "Damaged link; nothing stored", content_type = "text/html"),
        (status = 403, description = "Forged link; nothing stored", content_type = "text/html"),
        (status = 422, description = "Expired link; nothing stored", content_type = "text/html"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn click(State(capture): State<Capture>, Path(token): Path<String>) -> Response {
    match capture.signer.verify(&token, capture.now()) {
        Err(e) => pages::error(false, token_error(e)),
        Ok(claims) if claims.q => super::email_set::page(&capture, &claims, &token),
        Ok(claims) => {
            let en = pages::is_english(Some(&claims.l));
            match record(&capture, &claims, String::new()).await {
                Ok(follow) => pages::thanks(en, Some(&format!("/r/{token}")), follow.as_deref()),
                Err(e) => pages::error(en, e),
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentForm {
    #[serde(default)]
    comment: String,
}

/// `POST /r/{token}`: the optional comment on the thank-you page; stored as the
/// same rating with the comment, replacing the click's row.
#[utoipa::path(post, path = "/r/{token}", tag = "capture",
    params(("token" = String, Path, description = "The signed token of the clicked link")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`comment=...`"),
    responses(
        (status = 200, description = "Stored; a thank-you page", content_type = "text/html"),
        (status = 400, description = "Damaged link or form", content_type = "text/html"),
        (status = 403, description = "Forged link", content_type = "text/html"),
        (status = 422, description = "Expired link or comment too long", content_type = "text/html"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn comment(
    State(capture): State<Capture>,
    Path(token): Path<String>,
    body: Result<RawBody, ApiError>,
) -> Response {
    let claims = match capture.signer.verify(&token, capture.now()) {
        Ok(claims) => claims,
        Err(e) => return pages::error(false, token_error(e)),
    };
    let en = pages::is_english(Some(&claims.l));
    let body = match body {
        Ok(RawBody(body)) => body,
        Err(e) => return pages::error(en, e),
    };
    if claims.q {
        return super::email_set::answer(&capture, &claims, &body).await;
    }
    let form: CommentForm = match parse_form(&body) {
        Ok(form) => form,
        Err(e) => return pages::error(en, e),
    };
    match record(&capture, &claims, form.comment).await {
        Ok(_) => pages::thanks(en, None, None),
        Err(e) => pages::error(en, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let config = EmailConfig { secret: Some(SecretString::from("k".repeat(32))), ..EmailConfig::default() };
        Signer::new(&config, "http://x".into())
    }

    fn claims(expires: u32) -> Claims {
        Claims {
            e: Uuid::new_v4(),
            j: "j".into(),
            s: "s".into(),
            t: "email".into(),
            c: "".into(),
            k: Scale::Csat,
            v: 4,
            i: 0,
            x: expires,
            l: "ru".into(),
            q: false,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let s = signer();
        let c = claims(u32::MAX);
        let token = s.sign(&c);
        assert_eq!(s.verify(&token, SystemTime::now()), Ok(c.clone()));

        let (payload, sig) = token.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Claims { v: 5, ..c }).unwrap());
        assert_eq!(s.verify(&format!("{other}.{sig}"), SystemTime::now()), Err(TokenError::Forged));
        assert_eq!(s.verify(payload, SystemTime::now()), Err(TokenError::Malformed));
        assert_eq!(s.verify(&format!("{payload}.!!"), SystemTime::now()), Err(TokenError::Malformed));
    }

    proptest::proptest! {
        /// No string a client can send is accepted unless we signed it, and none panics.
        #[test]
        fn random_tokens_are_refused(token in "[A-Za-z0-9_.=-]{0,200}") {
            proptest::prop_assert!(signer().verify(&token, SystemTime::now()).is_err());
        }

        /// Any change to a signed token's payload is caught by the signature.
        #[test]
        fn a_changed_byte_is_caught(position in 0usize..60, replacement in "[A-Za-z0-9_-]") {
            let s = signer();
            let token = s.sign(&claims(u32::MAX));
            let (payload, sig) = token.split_once('.').unwrap();
            let position = position % payload.len();
            let mut changed = payload.to_string();
            changed.replace_range(position..position + 1, &replacement);
            if changed != payload {
                let tampered = format!("{changed}.{sig}");
                proptest::prop_assert!(s.verify(&tampered, SystemTime::now()).is_err());
            }
        }
    }

    #[test]
    fn an_expired_token_is_refused() {
        let s = signer();
        assert_eq!(s.verify(&s.sign(&claims(1)), SystemTime::now()), Err(TokenError::Expired));
    }
}
