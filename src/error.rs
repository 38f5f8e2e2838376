//! The error every HTTP handler returns, and the one JSON shape clients see:
//! `{"error":{"code":"…","message":"…","field":"…"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A journey, stage or touchpoint id that does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, field: &'static str, id: String },
    /// The service cannot serve now; the reason is safe to show.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, sent as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::NotFound { field, .. } => (StatusCode::NOT_FOUND, "not_found", Some(*field)),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        let message = match &self {
            ApiError::Internal(cause) => {
                // The cause may hold server names or SQL: it goes to the log only.
                tracing::error!(error = ?cause, "request failed");
                "internal error; the cause is in the service log".to_string()
            }
            other => other.to_string(),
        };
        (status, Json(Body { error: Detail { code, message, field } })).into_response()
    }
}

/// Answer for paths no router knows, in the same shape as every other error.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound { what: "path", field: "path", id: uri.path().to_string() }
}
