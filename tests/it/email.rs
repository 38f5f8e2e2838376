//! One-click rating links in letters.

use serde_json::{Value, json};
use touchpoint::storage::rows::FeedbackRow;

use crate::support::{TestApp, count_rows, spawn_app, spawn_app_with, test_config, until_stored, wait_for_rows};

async fn links(app: &TestApp, locale: &str) -> Value {
    let request = json!({
        "journey": "scrap-metal-licensing",
        "stage": "service_result",
        "case_ref": "Л-2026/117",
        "locale": locale
    });
    let (status, body) = app.post_staff("/api/v1/email-links", &request).await;
    assert_eq!(status, 202, "{body}");
    body
}

fn url(links: &Value, score: u64) -> String {
    links["links"].as_array().unwrap().iter().find(|l| l["score"] == score).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn ratings(app: &TestApp) -> Vec<FeedbackRow> {
    app.storage.client().query("SELECT ?fields FROM feedback FINAL").fetch_all().await.unwrap()
}

#[tokio::test]
async fn a_case_gets_one_link_per_score_and_a_plain_html_snippet() {
    let app = spawn_app().await;

    let body = links(&app, "ru").await;

    let urls: Vec<&str> = body["links"].as_array().unwrap().iter().map(|l| l["url"].as_str().unwrap()).collect();
    assert_eq!(urls.len(), 5);
    assert!(urls.iter().all(|u| u.starts_with(&format!("{}/r/", app.address))));
    let html = body["html"].as_str().unwrap();
    assert!(urls.iter().all(|u| html.contains(u)), "every link is in the snippet");
    assert!(html.starts_with("<table") && html.contains("Оцените"));
    assert!(!html.contains("<script") && !html.contains("<img"));
}

#[tokio::test]
async fn a_click_records_the_rating_and_a_second_click_replaces_it() {
    let app = spawn_app().await;
    let body = links(&app, "en").await;

    let first = app.http.get(url(&body, 2)).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let page = first.text().await.unwrap();
    assert!(page.contains("Thank you") && page.contains("<form method=\"post\""), "{page}");
    assert!(page.contains("/follow/") && page.contains("Follow the answer"), "a csat 2 opened a case");
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let row = ratings(&app).await.remove(0);
    assert_eq!((row.score, row.emotion, row.case_ref.as_str()), (2, -1, ""), "the reference is not kept in clear");
    assert_eq!((row.site.as_str(), row.touchpoint.as_str(), row.channel.as_str()), ("email", "email", "email"));
    assert_eq!(row.event_id.to_string(), body["event_id"].as_str().unwrap());

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a later version
    assert_eq!(app.http.get(url(&body, 5)).send().await.unwrap().status(), 200);
    until_stored("the second click", async || ratings(&app).await.iter().any(|r| r.score == 5)).await;

    let rows = ratings(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].score, 5);
    let touches = count_rows(&app.storage, "case_touches").await;
    assert_eq!(touches, 1, "one touch of the case, however many clicks");

    // A third click, low again: the case of the first stays as it opened, no second link.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let third = app.http.get(url(&body, 1)).send().await.unwrap().text().await.unwrap();
    assert!(!third.contains("/follow/"), "the case opened with the first click only");
    until_stored("the third click", async || ratings(&app).await.iter().any(|r| r.score == 1)).await;
    let opened: Vec<u32> =
        app.storage.client().query("SELECT toUInt32(opened_at) FROM cases FINAL").fetch_all().await.unwrap();
    assert_eq!(opened, [row.received_at], "one case, opened at the first click");

    // The dashboards' rollup counts the letter once too, with the second score.
    let token = crate::support::analyst_token(&app.storage).await;
    let stats = app.stats(&token, "period=7").await;
    let stage = stats["stages"].as_array().unwrap().iter().find(|s| s["id"] == "service_result").unwrap();
    assert_eq!(stage["touchpoints"][0]["n"], 1, "{stage}");
    assert_eq!(stage["n"], 1);
}

#[tokio::test]
async fn the_comment_on_the_thank_you_page_joins_the_rating() {
    let app = spawn_app().await;
    let link = url(&links(&app, "ru").await, 4);
    app.http.get(&link).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let response = app.http.post(&link).form(&[("comment", "Ответ пришёл быстро")]).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Спасибо"));
    until_stored("the comment", async || ratings(&app).await.iter().any(|r| !r.comment.is_empty())).await;
    let rows = ratings(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].score, rows[0].comment.as_str()), (4, "Ответ пришёл быстро"));
}

#[tokio::test]
async fn forged_tampered_malformed_and_expired_links_store_nothing() {
    let mut config = test_config();
    config.email.link_ttl = std::time::Duration::from_secs(1);
    let app = spawn_app_with(config).await;
    let link = url(&links(&app, "ru").await, 5);
    let (prefix, token) = link.rsplit_once("/r/").unwrap();
    let (payload, signature) = token.split_once('.').unwrap();
    // Change the first character: every bit of it is signature, none is padding.
    let first = if signature.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &signature[1..]);

    let forged = app.http.get(format!("{prefix}/r/{payload}.{flipped}")).send().await.unwrap();
    let truncated = app.http.get(format!("{prefix}/r/{payload}")).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = app.http.get(&link).send().await.unwrap();

    assert_eq!(forged.status(), 403);
    assert_eq!(truncated.status(), 400);
    assert_eq!(expired.status(), 422);
    assert!(expired.text().await.unwrap().contains("Оценка не сохранена"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count_rows(&app.storage, "feedback").await, 0);
}
