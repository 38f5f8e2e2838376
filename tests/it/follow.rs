//! The client's way back: a rating that opens a case gets a follow link; its
//! page shows the status and the answer, takes a rating of the answer, and
//! an address for a notice only with consent, deleted 30 days after the
//! case closes. A forged, damaged or expired link is a 404 that says nothing.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use touchpoint::domain::Role;
use touchpoint::follow::FollowLinks;
use touchpoint::storage::Storage;
use uuid::Uuid;

use crate::support::{
    SmtpSink, TestApp, ago, api_token, free_port, no_redirects, scratch, spawn_app_with, test_config, wait_for_rows,
};

fn rating(score: u8) -> Value {
    json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
           "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": score})
}

async fn get(app: &TestApp, url: &str) -> (u16, String) {
    let _ = app;
    let response = no_redirects().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post_form(url: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = no_redirects().post(url).form(fields).send().await.unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (response.status().as_u16(), location.unwrap_or(response.text().await.unwrap()))
}

async fn count(storage: &Storage, sql: &str, case: &str) -> u64 {
    storage.client().query(sql).bind(case).fetch_one().await.unwrap()
}

#[tokio::test]
async fn a_client_follows_the_case_is_told_of_the_answer_and_rates_it() {
    let mut config = test_config();
    config.dashboards_dir = crate::support::catalog_with_units();
    let port = free_port();
    config.notify.poll_interval = Duration::from_millis(100);
    config.notify.retry_base = Duration::from_millis(100);
    config.notify.smtp = Some(crate::support::smtp_config(port));
    let app = spawn_app_with(config).await;
    let sink = SmtpSink::start(port, &scratch("client-mail").join("box")).await;

    let (status, good) = app.post("/api/v1/feedback", &rating(4)).await;
    assert_eq!((status.as_u16(), good.get("follow_url")), (202, None), "no case, no link");
    let low = rating(1);
    let (_, accepted) = app.post("/api/v1/feedback", &low).await;
    let url = accepted["follow_url"].as_str().expect("a case opened: a link").to_string();
    let case = low["event_id"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/follow/", app.address)) && !url.contains(case), "the id is not readable");
    let form_id = Uuid::new_v4().to_string();
    let form = no_redirects()
        .post(format!("{}/api/v1/feedback", app.address))
        .form(&[
            ("event_id", form_id.as_str()),
            ("site", "demo"),
            ("journey", "scrap-metal-licensing"),
            ("stage", "application"),
            ("touchpoint", "epgu"),
            ("scale", "csat"),
            ("score", "2"),
        ])
        .send()
        .await
        .unwrap();
    let thanks = form.text().await.unwrap();
    assert!(thanks.contains("Следить за ответом"), "the no-JS thank-you page offers it too: {thanks}");
    wait_for_rows(&app.storage, "cases", 2).await;

    let (status, page) = get(&app, &url).await;
    assert_eq!(status, 200);
    assert!(page.contains("Обращение зарегистрировано") && page.contains("name=\"consent\""));
    assert!(!page.contains("name=\"score\""), "nothing to rate before the answer");
    let notice = format!("{url}/notice");
    assert_eq!(post_form(&notice, &[("email", "client@example.org")]).await.0, 422, "no consent, no address");
    assert_eq!(post_form(&notice, &[("email", "not an address"), ("consent", "1")]).await.0, 422);
    assert_eq!(count(&app.storage, "SELECT count() FROM follow_contacts WHERE case_id = ?", case).await, 0);
    let (status, location) = post_form(&notice, &[("email", "client@example.org"), ("consent", "1")]).await;
    assert_eq!((status, location.ends_with("?done=noted")), (303, true));
    let early = post_form(&format!("{url}/rating"), &[("score", "5")]).await;
    assert_eq!(early.0, 409, "no answer yet");

    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let answer = json!({"change_id": Uuid::new_v4(), "action": "answer", "text": "Форма <b>исправлена</b>"});
    let r = app.http.post(format!("{}/api/v1/cases/{case}/changes", app.address)).bearer_auth(&handler).json(&answer);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while sink.letters().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letters = sink.letters();
    assert_eq!(letters.len(), 1, "one notice: {letters:#?}");
    assert_eq!(letters[0].to, "client@example.org");
    assert!(letters[0].body.contains(&url) && !letters[0].body.contains("исправлена"), "the link, not the answer");

    let (_, page) = get(&app, &url).await;
    assert!(page.contains("Ответ готов") && page.contains("Форма &#60;b&#62;исправлена&#60;/b&#62;"));
    for score in ["2", "4"] {
        assert_eq!(post_form(&format!("{url}/rating"), &[("score", score)]).await.0, 303);
    }
    assert_eq!(post_form(&format!("{url}/rating"), &[("score", "6")]).await.0, 422);
    let scores: Vec<u8> =
        app.storage.client().query("SELECT score FROM handling_ratings FINAL").fetch_all().await.unwrap();
    assert_eq!(scores, [4], "one rating per case: the second replaced the first");
    let analyst = crate::support::analyst_token(&app.storage).await;
    let export = app.text_as(&analyst, "/dashboard/scrap-metal-licensing/export/feedback.csv?period=7").await;
    assert!(export.contains(case) && !export.contains("client@example.org"), "never exported");
    app.stop().await;
}

#[tokio::test]
async fn a_forged_damaged_or_expired_link_is_a_404_that_reveals_nothing() {
    let app = spawn_app_with(test_config()).await;
    let low = rating(1);
    let (_, accepted) = app.post("/api/v1/feedback", &low).await;
    let url = accepted["follow_url"].as_str().unwrap().to_string();
    let case: Uuid = low["event_id"].as_str().unwrap().parse().unwrap();
    wait_for_rows(&app.storage, "cases", 1).await;
    let ours = FollowLinks::new(test_config().email.secret.as_ref(), Duration::from_secs(180 * 86_400), &app.address);
    let theirs = FollowLinks::new(Some(&SecretString::from("x".repeat(32))), Duration::from_secs(999_999), "");
    let (now, _) = ago(0);
    let token = url.rsplit('/').next().unwrap();
    let mut damaged = token.to_string().into_bytes();
    damaged[5] = if damaged[5] == b'a' { b'b' } else { b'a' };
    let bad = [
        theirs.url(case, now).replace("/follow/", &format!("{}/follow/", app.address)),
        format!("{}/follow/{}", app.address, String::from_utf8(damaged).unwrap()),
        format!("{}/follow/{}", app.address, &token[..40]),
        ours.url(case, now - 181 * 86_400),
        format!("{}/follow/{}", app.address, case),
        // Ours and in time, but made for another opening than the case's.
        ours.url(case, now + 1),
    ];
    for link in &bad {
        let (status, page) = get(&app, link).await;
        assert_eq!(status, 404, "{link}");
        assert!(page.contains("Ссылка не работает") && !page.contains(&case.to_string()) && !page.contains("<form"));
        let (status, _) = post_form(&format!("{link}/rating"), &[("score", "5")]).await;
        assert_eq!(status, 404);
    }
    let opened: u32 = app.storage.client().query("SELECT toUInt32(opened_at) FROM cases").fetch_one().await.unwrap();
    assert_eq!(get(&app, &ours.url(case, opened)).await.0, 200, "the same case, signed by us and in time");
    app.stop().await;
}

#[tokio::test]
async fn an_address_is_deleted_30_days_after_its_case_closes_and_not_before() {
    let mut config = test_config();
    config.notify.housekeeping_interval = Duration::from_millis(100);
    let app = spawn_app_with(config).await;
    let store = touchpoint::follow::FollowStore::new(app.storage.clone());
    let (now, _) = ago(0);
    let (old, recent, open) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for id in [old, recent, open] {
        store.remember(id, "client@example.org", now - 40 * 86_400).await.unwrap();
    }
    for (id, closed_at) in [(old, now - 31 * 86_400), (recent, now - 29 * 86_400)] {
        let sql = "INSERT INTO case_changes (case_id, change_id, seq, at, by, action, resolution) \
                   VALUES (?, ?, 0, toDateTime(?), 'h', 'close', 'spam')";
        let change = Uuid::new_v4().to_string();
        app.storage.client().query(sql).bind(id.to_string()).bind(change).bind(closed_at).execute().await.unwrap();
    }
    let left = || async {
        let ids: Vec<String> =
            app.storage.client().query("SELECT toString(case_id) FROM follow_contacts").fetch_all().await.unwrap();
        let mut ids = ids;
        ids.sort();
        ids
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while left().await.contains(&old.to_string()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut kept = vec![recent.to_string(), open.to_string()];
    kept.sort();
    assert_eq!(left().await, kept);
    app.stop().await;
}

#[tokio::test]
async fn on_a_360_px_screen_the_follow_page_fits_passes_axe_and_rates_by_keyboard() {
    use crate::browser::{ENTER, TAB, axe, browser, keys, screenshot};
    use fantoccini::Locator;
    let mut config = test_config();
    config.dashboards_dir = crate::support::catalog_with_units();
    let app = spawn_app_with(config).await;
    let low = rating(1);
    let (_, accepted) = app.post("/api/v1/feedback", &low).await;
    let url = accepted["follow_url"].as_str().unwrap().to_string();
    wait_for_rows(&app.storage, "cases", 1).await;
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let answer = json!({"change_id": Uuid::new_v4(), "action": "answer", "text": "Ошибку в форме исправили, подайте заявление снова."});
    let path = format!("{}/api/v1/cases/{}/changes", app.address, low["event_id"].as_str().unwrap());
    assert_eq!(app.http.post(path).bearer_auth(&handler).json(&answer).send().await.unwrap().status(), 200);
    let (_driver, client) = browser(true).await;
    client.set_window_size(360, 740).await.unwrap();

    client.goto(&url).await.unwrap();
    client.wait().for_element(Locator::Css("input[name=score]")).await.unwrap();
    let scroll: Value = client
        .execute("return {scroll: document.documentElement.scrollWidth, width: innerWidth};", vec![])
        .await
        .unwrap();
    assert!(scroll["scroll"].as_f64().unwrap() <= scroll["width"].as_f64().unwrap(), "no sideways scrolling: {scroll}");
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe: {violations:#?}");
    screenshot(&client, "follow-360.png").await;

    // Tab into the scores (the first, 1), arrow to 2, Tab to the button, Enter.
    keys(&client, TAB).await;
    keys(&client, "\u{E014}").await;
    keys(&client, &format!("{TAB}{ENTER}")).await;
    client.wait().for_element(Locator::Css("[role=status]")).await.unwrap();
    let status = client.find(Locator::Css("[role=status]")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "Спасибо за оценку ответа!");
    let scores: Vec<u8> =
        app.storage.client().query("SELECT score FROM handling_ratings FINAL").fetch_all().await.unwrap();
    assert_eq!(scores, [2]);
    client.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_refused_address_is_given_up_at_once_kept_nowhere_and_deleted_with_the_contact() {
    let mut config = test_config();
    let port = free_port();
    config.notify.poll_interval = Duration::from_millis(100);
    config.notify.retry_base = Duration::from_millis(100);
    config.notify.smtp = Some(crate::support::smtp_config(port));
    let app = spawn_app_with(config).await;
    let _sink = SmtpSink::start_refusing(port, &scratch("refusing-mail").join("box")).await;
    let low = rating(1);
    let (_, accepted) = app.post("/api/v1/feedback", &low).await;
    let url = accepted["follow_url"].as_str().unwrap().to_string();
    let case = low["event_id"].as_str().unwrap();
    wait_for_rows(&app.storage, "cases", 1).await;
    let address = "olga.petrova@example.org";
    assert_eq!(post_form(&format!("{url}/notice"), &[("email", address), ("consent", "1")]).await.0, 303);
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let answer = json!({"change_id": Uuid::new_v4(), "action": "answer", "text": "Ответ"});
    let r = app.http.post(format!("{}/api/v1/cases/{case}/changes", app.address)).bearer_auth(&handler).json(&answer);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let client = "SELECT outcome, error FROM deliveries WHERE target = 'client'";
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut attempts: Vec<(String, String)> = Vec::new();
    while attempts.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        attempts = app.storage.client().query(client).fetch_all().await.unwrap();
    }
    // Many retry periods later, still the one attempt: a 550 is final.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let attempts: Vec<(String, String)> = app.storage.client().query(client).fetch_all().await.unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].0, "dead");
    assert!(attempts[0].1.contains("550") && attempts[0].1.contains("<address>"), "{attempts:?}");
    let everywhere: u64 = app
        .storage
        .client()
        .query("SELECT count() FROM deliveries WHERE positionCaseInsensitive(error, 'example.org') > 0")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(everywhere, 0, "the address is in no delivery record");

    // Closed, and 30 days on: the address and what its notice left go together.
    let close = json!({"change_id": Uuid::new_v4(), "action": "close", "resolution": "explained"});
    let r = app.http.post(format!("{}/api/v1/cases/{case}/changes", app.address)).bearer_auth(&handler).json(&close);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let store = touchpoint::follow::FollowStore::new(app.storage.clone());
    assert_eq!(store.forget_closed(ago(0).0 + 31 * 24 * 3600).await.unwrap(), 1);
    let left = "SELECT (SELECT count() FROM follow_contacts) + (SELECT count() FROM deliveries WHERE target = 'client' AND error != '')";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut remaining: u64 = 1;
    while remaining > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        remaining = app.storage.client().query(left).fetch_one().await.unwrap();
    }
    assert_eq!(remaining, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes: Vec<String> =
        app.storage.client().query("SELECT outcome FROM deliveries WHERE target = 'client'").fetch_all().await.unwrap();
    assert_eq!(outcomes, ["dead"], "the record stays, so nothing is sent again");
    app.stop().await;
}
