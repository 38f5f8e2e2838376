//! Keys the config leaves unset are made once per database and kept (issue
//! 28, item 17): yesterday's links and logins work after a restart, and
//! every instance of a database signs with the same key.

use serde_json::json;
use touchpoint::accounts::auth;
use uuid::Uuid;

use crate::support::{PASSWORD, TestApp, no_redirects, spawn_app_with, test_config};

async fn dashboard(app: &TestApp, cookie: &str) -> u16 {
    let request = no_redirects().get(format!("{}/dashboard", app.address)).header("cookie", cookie);
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn without_configured_keys_links_and_sessions_outlive_a_restart_and_agree_between_instances() {
    let mut config = test_config();
    config.email.secret = None;
    config.dashboards.session_secret = None;
    // Two instances start at once on the new database, each with its spool.
    let mut other = config.clone();
    other.spool.dir = crate::support::scratch("spool");
    let (first, second) = tokio::join!(spawn_app_with(config.clone()), spawn_app_with(other));
    auth::add_user(&first.storage, "olga", PASSWORD, &auth::Grant::analyst()).await.unwrap();
    let rating = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": 1});
    let (status, body) = first.post("/api/v1/feedback", &rating).await;
    assert_eq!(status, 202);
    let url = body["follow_url"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap().to_string();
    crate::support::wait_for_rows(&first.storage, "cases", 1).await;
    let cookie = crate::support::session_of(&first, "olga").await;
    assert_eq!(dashboard(&first, &cookie).await, 200);
    assert_eq!(dashboard(&second, &cookie).await, 200, "the other instance knows the session");
    assert_eq!(second.get(&format!("/follow/{token}")).await.status(), 200, "and the link");
    let kept: Vec<String> =
        first.storage.client().query("SELECT DISTINCT name FROM secrets ORDER BY name").fetch_all().await.unwrap();
    assert_eq!(kept, ["dashboards.session_secret", "email.secret"]);
    first.stop().await;
    second.stop().await;

    let again = spawn_app_with(config).await;
    assert_eq!(again.get(&format!("/follow/{token}")).await.status(), 200, "the link works after a restart");
    assert_eq!(dashboard(&again, &cookie).await, 200, "so does the login");
    let rows: u64 = again.storage.client().query("SELECT count() FROM secrets").fetch_one().await.unwrap();
    assert!(rows <= 4, "made at most once per starting instance: {rows}");
    again.stop().await;
}
