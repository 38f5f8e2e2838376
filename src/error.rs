//! The error every HTTP handler returns, and the one JSON shape clients see:
//! `{"error":{"code":"…","message":"…","field":"…"}}`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not well-formed JSON or form data.
    #[error("{message}")]
    Malformed { message: String },
    /// A well-formed value that is wrong: out of range, unknown id, missing field.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A staff endpoint called without a valid bearer token.
    #[error("a valid staff token is needed: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// A dashboard read without a login or an API token.
    #[error("log in, or send `Authorization: Bearer <API token>`")]
    LoginRequired,
    /// Known caller, refused: a role or unit that may not do this (another
    /// unit's case, a stage of another unit), or a browser origin the site
    /// or form does not allow; `field` names what was refused.
    #[error("{message}")]
    Forbidden { field: &'static str, message: String },
    /// Something named that does not exist: a journey, stage or touchpoint,
    /// a case, account, recommendation, register version, link or path.
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, field: &'static str, id: String },
    /// A change the thing's state refuses, e.g. a reply to a closed case.
    #[error("{message}")]
    Conflict { field: &'static str, message: String },
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("send the body as {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// A rate limit was hit; `scope` says which one.
    #[error("too many requests from this {scope}; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { scope: &'static str, retry_after: Duration },
    /// The spool cannot take the event now (disk cap, too many waiting, disk error):
    /// accepted events are not dropped, new ones retry after Retry-After.
    #[error("the service is busy; retry in {} s", retry_after.as_secs().max(1))]
    Overloaded { retry_after: Duration },
    /// The request took longer than `request_timeout` (a stuck ClickHouse
    /// query, a client that stopped sending its body): cut, never left hanging.
    #[error("the request took longer than {} s and was stopped; retry", after.as_secs())]
    TimedOut { after: Duration },
    /// The service cannot serve now; the reason is safe to show.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, sent as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub use crate::metrics::ErrorCode;

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable, for programs: `invalid`, `malformed`, `rate_limited`, ...
    code: &'a str,
    /// For people.
    message: String,
    /// The field at fault, e.g. `score` or `[3].duration_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::LoginRequired => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded { .. } | ApiError::Unavailable(_) | ApiError::TimedOut { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed { .. } => "malformed",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Unauthorized | ApiError::LoginRequired => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TimedOut { .. } => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid { field, .. } => Some(field),
            ApiError::Forbidden { field, .. } | ApiError::NotFound { field, .. } | ApiError::Conflict { field, .. } => {
                Some(field)
            }
            _ => None,
        }
    }

    /// The text a person may read: for a 500, never the cause.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(cause) => {
                // The cause may hold server names or SQL: it goes to the log only.
                tracing::error!(error = ?cause, "request failed");
                "internal error; the cause is in the service log".to_string()
            }
            other => other.to_string(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after, .. } | ApiError::Overloaded { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Adds the headers the status calls for (Retry-After, WWW-Authenticate).
    pub fn decorate(&self, response: &mut Response) {
        response.extensions_mut().insert(ErrorCode(self.code()));
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after() {
            // Whole seconds, rounded up: a client that waits this long gets through.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let ApiError::Unauthorized | ApiError::LoginRequired = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code(), message: self.public_message(), field: self.field() } };
        let mut response = (self.status(), Json(body)).into_response();
        self.decorate(&mut response);
        response
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(e: crate::domain::Invalid) -> ApiError {
        ApiError::Invalid { field: e.field, message: e.message }
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Answer for paths no router knows, in the same shape as every other error.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound { what: "path", field: "path", id: uri.path().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_announced_in_whole_seconds_rounded_up() {
        let response = ApiError::Overloaded { retry_after: Duration::from_millis(1200) }.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let response = ApiError::RateLimited { scope: "site", retry_after: Duration::ZERO }.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn every_error_code_has_its_own_metrics_outcome() {
        let errors = [
            ApiError::Malformed { message: String::new() },
            ApiError::invalid("f", "m"),
            ApiError::Unauthorized,
            ApiError::LoginRequired,
            ApiError::Forbidden { field: "f", message: String::new() },
            ApiError::NotFound { what: "w", field: "f", id: String::new() },
            ApiError::Conflict { field: "f", message: String::new() },
            ApiError::TooLarge { limit: 1 },
            ApiError::UnsupportedMediaType { expected: "x" },
            ApiError::RateLimited { scope: "s", retry_after: Duration::ZERO },
            ApiError::Overloaded { retry_after: Duration::ZERO },
            ApiError::Unavailable(String::new()),
            ApiError::TimedOut { after: Duration::ZERO },
            ApiError::Internal(anyhow::anyhow!("x")),
        ];
        for e in errors {
            assert!(crate::metrics::OUTCOMES.contains(&e.code()), "{}", e.code());
        }
    }

    #[test]
    fn a_500_never_shows_its_cause() {
        let error = ApiError::Internal(anyhow::anyhow!("password=hunter2 at clickhouse.internal"));
        assert!(!error.public_message().contains("hunter2"));
    }
}
