//! A case belongs to the event that opened it (issue 28, item 1): knowing a
//! case id gives nobody a follow link or any change to the case.

use std::time::Duration;

use serde_json::json;
use touchpoint::domain::Role;
use uuid::Uuid;

use crate::support::{ago, api_token, catalog_with_units, spawn_app_with, test_config, wait_for_rows};

#[tokio::test]
async fn a_rating_posted_with_a_calls_case_id_neither_takes_the_case_over_nor_follows_it() {
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    let app = spawn_app_with(config).await;
    let id = Uuid::new_v4();
    // Three transfers break the phone standard: the call opens a case of the
    // journey's unit, `general`, at information_search.
    let call = json!({"event_id": id, "started_at": ago(600).1, "wait_seconds": 30, "talk_seconds": 200,
        "transfers": 3, "resolved": true, "process": "consulting", "operator": "op-7",
        "journey": "scrap-metal-licensing", "stage": "information_search"});
    assert_eq!(app.post_staff("/api/v1/calls", &call).await.0, 202);
    wait_for_rows(&app.storage, "cases", 1).await;
    // The id travelled in a webhook; a stranger posts a low public rating
    // with it at a stage of another unit, a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let forged = json!({"event_id": id, "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": 1, "comment": "forged"});
    let (status, body) = app.post("/api/v1/feedback", &forged).await;
    assert_eq!(status, 202, "{body}");
    wait_for_rows(&app.storage, "feedback", 1).await;
    // The round that stored the rating also carried its case row.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let rows: Vec<(String, String)> = app
        .storage
        .client()
        .query("SELECT unit, reason FROM cases WHERE event_id = toUUID(?)")
        .bind(id.to_string())
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rows, [("general".to_string(), "transfers".to_string())], "the call's case, alone and unchanged");

    // Whatever link the stranger got opens nothing, and changes nothing.
    if let Some(url) = body["follow_url"].as_str() {
        assert_eq!(app.http.get(url).send().await.unwrap().status(), 404);
        let notice = app.http.post(format!("{url}/notice")).form(&[("email", "x@example.org"), ("consent", "on")]);
        assert_eq!(notice.header("origin", &app.address).send().await.unwrap().status(), 404);
    }
    let contacts: u64 = app.storage.client().query("SELECT count() FROM follow_contacts").fetch_one().await.unwrap();
    assert_eq!(contacts, 0);

    // The unit that works it still does, and reads what the call said.
    let (general, licensing) = (
        api_token(&app.storage, Role::Handler, &["general"]).await,
        api_token(&app.storage, Role::Handler, &["licensing"]).await,
    );
    let (status, case) = app.get_as(&general, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["unit"], "general");
    assert_eq!(case["context"]["channel"], "phone", "{case}");
    assert_eq!(case["context"]["transfers"], 3);
    assert_ne!(case["context"]["comment"], "forged");
    assert_eq!(app.get_as(&licensing, &format!("/api/v1/cases/{id}")).await.0, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_repeat_of_a_rating_that_opened_a_case_gets_no_follow_link() {
    let app = spawn_app_with(test_config()).await;
    let rating = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": 1});
    let (status, first) = app.post("/api/v1/feedback", &rating).await;
    assert_eq!(status, 202);
    assert!(first["follow_url"].is_string(), "the poster follows their case: {first}");
    let (status, again) = app.post("/api/v1/feedback", &rating).await;
    assert_eq!(status, 202);
    assert_eq!(again, json!({"event_id": rating["event_id"]}), "whoever repeats the id learns no link");
    app.stop().await;
}
