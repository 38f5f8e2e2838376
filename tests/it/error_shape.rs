//! Errors the framework used to answer in plain text, now in our shape
//! (issue 12, item 6): a bad query string, a path that is not UTF-8, an
//! over-long body on a rating link, a date range the service cannot serve.

use serde_json::json;

use crate::support::{TestApp, spawn_app};

async fn get_with_token(app: &TestApp, token: &str, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let response = app.http.get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.expect("a JSON error body"))
}

#[tokio::test]
async fn bad_queries_and_paths_are_answered_in_our_json_shape() {
    let app = spawn_app().await;
    let token = crate::support::analyst_token(&app.storage).await;
    let stats = "/api/v1/journeys/scrap-metal-licensing/stats";

    let cases = [
        (format!("{stats}?period=abc"), 422, "invalid", "period"),
        (format!("{stats}?from=1970-01-01&to=1970-01-02"), 422, "invalid", "from"),
        (format!("{stats}?from=2026-01-01&to=2200-01-01"), 422, "invalid", "to"),
        ("/api/v1/journeys/%FF".to_string(), 404, "not_found", "path"),
    ];
    for (path, status, code, field) in cases {
        let (got, body) = get_with_token(&app, &token, &path).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
            (Some(code), Some(field)),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_over_long_comment_on_a_rating_link_gets_our_413_page() {
    let app = spawn_app().await;
    let request = json!({"journey": "scrap-metal-licensing", "stage": "service_result", "case_ref": "Л-1"});
    let (status, links) = app.post_staff("/api/v1/email-links", &request).await;
    assert_eq!(status, 202, "{links}");
    let url = links["links"][0]["url"].as_str().unwrap().to_string();

    let response = app
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("comment={}", "я".repeat(40_000)))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<html"), "the service's own error page");
    app.stop().await;
}
