//! `/metrics`: behind the API token, counting outcomes and shipped rows.

use serde_json::json;
use uuid::Uuid;

use crate::support::{spawn_app, wait_for_rows};

#[tokio::test]
async fn metrics_count_outcomes_and_shipped_rows_behind_the_api_token() {
    let app = spawn_app().await;
    let token = crate::support::analyst_token(&app.storage).await;
    let rating = json!({
        "event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "thumbs", "score": 1
    });
    let mut wrong = rating.clone();
    wrong["score"] = json!(7);

    assert_eq!(app.post("/api/v1/feedback", &rating).await.0, 202);
    assert_eq!(app.post("/api/v1/feedback", &wrong).await.0, 422);
    wait_for_rows(&app.storage, "feedback", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let anonymous = app.get("/metrics").await;
    let scraped = app.http.get(format!("{}/metrics", app.address)).bearer_auth(&token).send().await.unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = scraped.text().await.unwrap();
    for line in [
        "touchpoint_capture_requests_total{endpoint=\"/api/v1/feedback\",outcome=\"accepted\"} 1",
        "touchpoint_capture_requests_total{endpoint=\"/api/v1/feedback\",outcome=\"invalid\"} 1",
        "touchpoint_rows_written_total{table=\"feedback\"} 1",
        "touchpoint_spool_sync_waiting 0",
        "touchpoint_dedupe_ids 1",
        "touchpoint_dedupe_evicted 0",
        "touchpoint_events_spooled_total 1",
        "touchpoint_events_refused_total{reason=\"disk_cap\"} 0",
        "touchpoint_spool_bytes 0",
        "touchpoint_spool_oldest_age_seconds 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(text.contains("touchpoint_insert_seconds_bucket{le=\"0.001\",table=\"feedback\"}"), "{text}");
}
