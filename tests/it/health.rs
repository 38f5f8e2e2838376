use std::sync::Arc;
use std::time::{Duration, Instant};

use touchpoint::app;
use touchpoint::journeys::Catalog;
use touchpoint::storage::embedded::EmbeddedClickHouse;
use touchpoint::storage::migrations::Migration;

use crate::support::{
    TestApp, embedded_config, fresh_storage, repo, scratch, spawn_app, spawn_app_with, tables, test_config,
};

/// Polls `/readyz` until it answers `want` or `patience` runs out; returns the last answer.
async fn readyz_until(app: &TestApp, want: u16, patience: Duration) -> (reqwest::StatusCode, serde_json::Value) {
    let deadline = Instant::now() + patience;
    loop {
        let (status, body) = app.get_json("/readyz").await;
        if status == want || Instant::now() >= deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn healthz_answers_up() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/healthz").await;

    assert_eq!(status, 200);
    assert_eq!(body["status"], "up");
}

#[tokio::test]
async fn readyz_is_ready_once_the_app_has_migrated() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/readyz").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["migrations"], Migration::embedded().len());
    assert_eq!(tables(&app.storage).await, crate::support::service_tables());
}

#[tokio::test]
async fn readyz_names_the_migrations_not_applied() {
    // The router alone, on a database nobody migrated.
    let catalog = touchpoint::journeys::Live::new(Catalog::load(&repo().join("dashboards")).unwrap());
    let storage = fresh_storage().await;
    let mut config = test_config();
    config.spool.dir = scratch("spool");
    let memory = Arc::new(touchpoint::ingest::Memory::new(touchpoint::startup::dedupe_options(&config)));
    let (state, _writer) = touchpoint::startup::services(
        &config,
        catalog,
        &storage,
        Migration::embedded().into(),
        memory,
        "http://127.0.0.1".into(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, tower::make::Shared::new(app(state))).await });

    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("migrations not applied") && message.contains("0001_feedback.sql"), "{message}");
}

#[tokio::test]
async fn readyz_follows_clickhouse_going_down_and_coming_back() {
    // A server of the test's own, since this test stops it.
    let server_config = embedded_config(&scratch("readyz-clickhouse"));
    let server = EmbeddedClickHouse::start(&server_config, "touchpoint").await.unwrap();
    let endpoint = server.endpoint();
    let mut config = test_config();
    config.clickhouse.url = Some(endpoint.url.clone());
    config.clickhouse.password = endpoint.password.clone();
    let app = spawn_app_with(config).await;
    assert_eq!(app.get_json("/readyz").await.0, 200);

    server.stop().await.unwrap();
    let (status, body) = readyz_until(&app, 503, Duration::from_secs(10)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["message"], "not ready: ClickHouse is unreachable");
    assert_eq!(app.get_json("/healthz").await.0, 200, "liveness does not depend on ClickHouse");

    // Same folder: same port and the data (with its applied migrations) kept.
    let restarted = EmbeddedClickHouse::start(&server_config, "touchpoint").await.unwrap();
    assert_eq!(restarted.endpoint().url, endpoint.url);
    let (status, body) = readyz_until(&app, 200, Duration::from_secs(10)).await;
    assert_eq!(status, 200, "{body}");
    restarted.stop().await.unwrap();
}
