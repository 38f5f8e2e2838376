//! Our own body extractors, so that every bad body gets our error shape and
//! names the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The body limit of the public endpoints; see the routers' `DefaultBodyLimit`.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    /// `application/x-www-form-urlencoded`, from the no-JavaScript form.
    Form,
}

/// A JSON body (`application/json`, or `text/plain` as `navigator.sendBeacon`
/// sends without a CORS preflight).
pub struct Json<T>(pub T);

/// The bytes of a JSON body, for handlers that pick the type from the content
/// (one event or an array).
pub struct RawJson(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read(req, state, false).await.map(|(_, bytes)| RawJson(bytes))
    }
}

/// A query string, parsed as a form is: a wrong value is our 422 naming the
/// parameter, where axum's `Query` answers a plain-text 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_form(parts.uri.query().unwrap_or_default().as_bytes()).map(Query)
    }
}

/// Path parameters; one that is not UTF-8 (`%FF`) names no page or event of
/// ours: a 404 in our shape, where axum's `Path` answers plain text.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(_) => Err(ApiError::NotFound { what: "path", field: "path", id: parts.uri.path().to_string() }),
        }
    }
}

/// The bytes of a body of any type, for a handler that parses it itself; over
/// the route's `DefaultBodyLimit`, our 413.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        body_bytes(req, state).await.map(RawBody)
    }
}

/// A JSON or form-encoded body; the handler answers a form with HTML.
pub struct JsonOrForm<T> {
    pub value: T,
    pub kind: BodyKind,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (kind, bytes) = read(req, state, false).await?;
        debug_assert_eq!(kind, BodyKind::Json);
        parse_json(&bytes).map(Json)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (kind, bytes) = read(req, state, true).await?;
        let value = match kind {
            BodyKind::Json => parse_json(&bytes)?,
            BodyKind::Form => parse_form(&bytes)?,
        };
        Ok(JsonOrForm { value, kind })
    }
}

async fn read<S: Send + Sync>(req: Request, state: &S, form: bool) -> Result<(BodyKind, Bytes), ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    let kind = if is("application/json") || is("text/plain") {
        BodyKind::Json
    } else if form && is("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else if form {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json or application/x-www-form-urlencoded",
        });
    } else {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    };
    Ok((kind, body_bytes(req, state).await?))
}

/// The body, at most `BODY_LIMIT` bytes whatever the route: a declared
/// length over it is refused before reading, and a chunked body is cut as it
/// passes it (a route's `DefaultBodyLimit`, axum's 2 MB by default, is not
/// what bounds it).
async fn body_bytes<S: Send + Sync>(req: Request, _state: &S) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt as _;
    refuse_declared_over(req.headers(), BODY_LIMIT)?;
    match http_body_util::Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge { limit: BODY_LIMIT }),
        Err(e) => Err(ApiError::Malformed { message: format!("cannot read the body: {e}") }),
    }
}

/// A body whose declared `Content-Length` is over `limit` is refused before
/// a byte of it is read: waiting for it would hold the connection for as long
/// as the client cares to send.
pub fn refuse_declared_over(headers: &axum::http::HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(ApiError::TooLarge { limit }),
        _ => Ok(()),
    }
}

/// Syntax errors are 400; a well-formed body with a wrong value is 422 naming
/// the field (`events[3].score`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Tracking the path costs on every field; only a failed parse needs it,
    // so a body that parses is parsed once, without it.
    // Valid UTF-8 once for the whole body: serde_json then skips the check
    // string by string.
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(value) = serde_json::from_str(text)
    {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &inner.to_string()),
            // serde_json reports some type mismatches (a number where an enum's
            // name belongs) as syntax errors: well-formed JSON is never a 400.
            _ if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
                ApiError::Invalid { field: path, message: "a value of the wrong type".into() }
            }
            _ => ApiError::Malformed { message: format!("the body is not valid JSON: {inner}") },
        }
    })?;
    de.end().map_err(|e| ApiError::Malformed { message: format!("the body is not valid JSON: {e}") })?;
    Ok(value)
}

pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = serde_html_form::Deserializer::from_bytes(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        data_error(&path, &e.into_inner().to_string())
    })
}

/// serde names a missing or unknown field only in its message (`missing field
/// `score``); the path names the container. Join the two.
fn data_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message).to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.split_once(p).and_then(|(_, rest)| rest.split('`').next()));
    // An unknown field is already the last step of the path; a missing one is not.
    let field = match (path, named) {
        (".", Some(name)) | ("", Some(name)) => name.to_string(),
        (path, Some(name)) if path.rsplit(['.', ']']).next() != Some(name) => format!("{path}.{name}"),
        (path, _) => path.to_string(),
    };
    ApiError::Invalid { field, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        score: u8,
        tags: Option<Vec<String>>,
    }

    fn field(result: Result<Vec<Item>, ApiError>) -> String {
        match result.unwrap_err() {
            ApiError::Invalid { field, .. } => field,
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(field(parse_json(br#"[{"score": 1}, {"score": 300}]"#)), "[1].score");
        assert_eq!(field(parse_json(br#"[{"score": 1}, {}]"#)), "[1].score");
        assert_eq!(field(parse_json(br#"[{"score": 1, "sore": 2}]"#)), "[0].sore");
    }

    proptest::proptest! {
        /// Whatever the bytes, the parsers answer Ok or one of our errors: no panic, never a 5xx.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for e in [
                parse_json::<crate::capture::events::FeedbackInput>(&bytes).err(),
                parse_json::<Vec<crate::capture::events::TimingInput>>(&bytes).err(),
                parse_form::<crate::capture::events::FeedbackInput>(&bytes).err(),
            ]
            .into_iter()
            .flatten()
            {
                proptest::prop_assert!(e.status().is_client_error(), "{e:?}");
            }
        }

        /// Near-valid bodies: a valid rating with one field replaced by arbitrary JSON.
        #[test]
        fn a_valid_rating_with_one_field_garbled_fails_naming_it(field in 0usize..8, junk in "[-a-z0-9\"{}\\[\\],:. ]{0,24}") {
            let names = ["event_id", "site", "journey", "stage", "touchpoint", "scale", "score", "tags"];
            let mut body = serde_json::json!({
                "event_id": "6f1c2a4e-1d3b-4c5d-9e8f-0a1b2c3d4e5f", "site": "demo", "journey": "j", "stage": "s",
                "touchpoint": "t", "scale": "csat", "score": 3, "tags": []
            });
            let Ok(replacement) = serde_json::from_str::<serde_json::Value>(&junk) else { return Ok(()) };
            body[names[field]] = replacement;
            if let Err(e) = parse_json::<crate::capture::events::FeedbackInput>(body.to_string().as_bytes()) {
                proptest::prop_assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
                proptest::prop_assert!(e.field().is_some_and(|f| f.starts_with(names[field])), "{:?}", e);
            }
        }
    }

    #[test]
    fn deep_nesting_and_invalid_utf8_are_client_errors() {
        let deep = "[".repeat(100_000);
        assert!(parse_json::<Vec<Item>>(deep.as_bytes()).unwrap_err().status().is_client_error());
        // serde_json's recursion limit, not the stack, ends a deep document.
        assert!(matches!(parse_json::<serde_json::Value>(deep.as_bytes()), Err(ApiError::Malformed { .. })));
        let bad_utf8 = b"[{\"score\": 1, \"tags\": [\"\xff\xfe\"]}]";
        assert!(parse_json::<Vec<Item>>(bad_utf8).unwrap_err().status().is_client_error());
    }

    #[test]
    fn broken_json_is_malformed() {
        assert!(matches!(parse_json::<Vec<Item>>(b"[{\"score\": 1"), Err(ApiError::Malformed { .. })));
        assert!(matches!(parse_json::<Vec<Item>>(b"[] trailing"), Err(ApiError::Malformed { .. })));
    }
}
