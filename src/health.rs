//! Liveness and readiness probes for orchestrators and people.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::time::Duration;

use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::storage::migrations::{self, Migration};

#[derive(Clone)]
struct Probe {
    storage: Storage,
    migrations: Arc<[Migration]>,
    metrics: Arc<Metrics>,
    stall_after: Duration,
    /// On a cluster: how far behind this server's replicas may be.
    max_replica_delay: Duration,
}

pub fn router(
    storage: Storage,
    migrations: Arc<[Migration]>,
    metrics: Arc<Metrics>,
    stall_after: Duration,
    max_replica_delay: Duration,
) -> OpenApiRouter {
    let probe = Probe { storage, migrations, metrics, stall_after, max_replica_delay };
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).with_state(probe)
}

/// The process is up and serving HTTP; says nothing about ClickHouse.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "`{\"status\":\"up\"}`")))]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "up" }))
}

/// Ready when ClickHouse answers, every migration is applied unchanged, on a
/// cluster this server's replicas can write and keep up, and the spool
/// ships; otherwise 503 with the reason.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "`{\"status\":\"ready\",\"migrations\":N}`"),
    (status = 503, description = "Not ready; the message says why", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
async fn readyz(State(probe): State<Probe>) -> Result<Json<Value>, ApiError> {
    let not_ready = |reason: String| {
        tracing::warn!(%reason, "not ready");
        ApiError::Unavailable(format!("not ready: {reason}"))
    };
    // Details (server address, ClickHouse's own words) go to the log only.
    if let Err(e) = probe.storage.ping().await {
        tracing::warn!(error = %e, location = %probe.storage.location(), "ClickHouse unreachable");
        return Err(not_ready("ClickHouse is unreachable".into()));
    }
    let pending = migrations::pending(&probe.storage, &probe.migrations).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot compare migrations");
        match e {
            migrations::MigrationError::Changed { name, .. } => {
                not_ready(format!("applied migration {name} has changed"))
            }
            _ => not_ready("cannot read the applied migrations from ClickHouse".into()),
        }
    })?;
    if !pending.is_empty() {
        return Err(not_ready(format!("migrations not applied: {}", pending.join(", "))));
    }
    if probe.storage.cluster().is_some() {
        let trouble = crate::storage::cluster::trouble(&probe.storage, probe.max_replica_delay).await;
        match trouble {
            Ok(Some(reason)) => return Err(not_ready(reason)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read system.replicas");
                return Err(not_ready("cannot read the state of the replicas".into()));
            }
        }
    }
    if let Some(age) = probe.metrics.stalled_for(probe.stall_after) {
        return Err(not_ready(format!("the spool has not shipped events to ClickHouse for {} s", age.as_secs())));
    }
    Ok(Json(json!({ "status": "ready", "migrations": probe.migrations.len() })))
}
/// `GET /metrics`, behind the same auth as the dashboards' API.
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> Result<Response, ApiError> {
    let text = metrics.render().map_err(|e| ApiError::Internal(e.into()))?;
    let content_type = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}
