//! One client's case across channels (issue 14): a licence application walked
//! through all five stages by phone, letter, site, EPGU and an e-mail link,
//! linked only by the keyed hash of its reference; stage durations computed
//! by hand; the analysts' timeline and the client's history page show that
//! case and no other; a forged or expired history link shows nothing.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use touchpoint::domain::Role;
use uuid::Uuid;

use crate::support::{
    PASSWORD, TestApp, ago, api_token, no_redirects, repo, spawn_app_with, test_config, wait_for_rows,
};

const CASE: &str = "Л-2026/117";
const OTHER: &str = "Л-2026/118";
const DAY: u64 = 86_400;

/// One instant for the whole test: `ago` read twice can straddle a second.
fn base() -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| u64::from(ago(0).0))
}

/// The time `days` before the test's instant (less `seconds`), as unix seconds and RFC 3339.
fn before(days: u64, seconds: u64) -> (u32, String) {
    let unix = base() - days * DAY - seconds;
    let t = std::time::UNIX_EPOCH + Duration::from_secs(unix);
    (unix as u32, humantime::format_rfc3339_seconds(t).to_string())
}

fn config() -> touchpoint::config::Config {
    let mut config = test_config();
    config.case_refs.secret = Some(SecretString::from("a-case-reference-key-of-32-chars!!"));
    config.case_refs.refresh_interval = Duration::from_millis(200);
    config
}

fn call(days_ago: u64, stage: &str, case_ref: &str) -> Value {
    json!({"event_id": Uuid::new_v4(), "started_at": before(days_ago, 0).1, "wait_seconds": 30, "talk_seconds": 200,
           "transfers": 3, "resolved": true, "process": "informing", "operator": "op-7",
           "journey": "scrap-metal-licensing", "stage": stage, "rating": {"scale": "csat", "score": 4},
           "case_ref": case_ref})
}

fn letter(days_ago: u64, stage: &str, touchpoint: &str) -> Value {
    let (received, answered) = (before(days_ago, 0).1, before(days_ago - 1, DAY - 2 * 3600).1);
    json!({"event_id": Uuid::new_v4(), "letter_id": format!("{stage}-1"), "touchpoint": touchpoint,
           "received_at": received, "acknowledged_at": received, "answered_at": answered,
           "journey": "scrap-metal-licensing", "stage": stage, "case_ref": CASE})
}

fn rating(days_ago: u64, stage: &str, touchpoint: &str, case_ref: &str, comment: &str) -> Value {
    json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing", "stage": stage,
           "touchpoint": touchpoint, "scale": "csat", "score": 4, "comment": comment,
           "occurred_at": before(days_ago, 0).1, "case_ref": case_ref})
}

/// The keyed hash of `CASE`, as an analyst asks for it.
async fn case_key(app: &TestApp, token: &str) -> String {
    let response = app.http.post(format!("{}/api/v1/case-refs/key", app.address)).bearer_auth(token);
    let key: Value = response.json(&json!({"case_ref": CASE})).send().await.unwrap().json().await.unwrap();
    key["case_key"].as_str().unwrap().to_string()
}

async fn analyst_get(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.http.get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The durations once the stage times include every stage of the walk.
async fn durations(app: &TestApp, token: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let body = analyst_get(app, token, "/api/v1/journeys/scrap-metal-licensing/stage-durations").await;
        let stages = body["stages"].as_array().unwrap().clone();
        if stages.iter().all(|s| s["reached"].as_u64() >= Some(1)) || std::time::Instant::now() > deadline {
            return stages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn one_case_through_five_stages_across_channels_is_measured_and_shown_as_itself() {
    let app = spawn_app_with(config()).await;
    let at = |days: u64| before(days, 0).0;
    // The walk, oldest first: (stage, first contact) — days before now.
    assert_eq!(app.post_staff("/api/v1/calls", &call(40, "information_search", CASE)).await.0, 202);
    let (status, answer) = app.post_staff("/api/v1/correspondence", &letter(38, "preparation", "post")).await;
    assert_eq!(status, 202, "{answer}");
    let history_url = answer["history_url"].as_str().expect("a history link for a letter with a case").to_string();
    assert_eq!(app.post_staff("/api/v1/correspondence", &letter(30, "application", "epgu")).await.0, 202);
    // The ministry's pages pass the widget the reference touchpoint signed
    // (the history link's token), as a page of the client's own case does.
    let signed = history_url.rsplit('/').next().unwrap().to_string();
    let on_site = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "onsite_assessment", "touchpoint": "in_person", "duration_ms": 5_400_000, "measure": "wait",
        "source": "measured", "occurred_at": before(5, 0).1, "case_ref": signed});
    assert_eq!(app.post("/api/v1/timings", &on_site).await.0, 202);
    // A later site rating at an earlier stage changes none of the durations.
    let careful = rating(3, "preparation", "site", &signed, "долго искал форму");
    assert_eq!(app.post("/api/v1/feedback", &careful).await.0, 202);
    assert_eq!(app.post("/api/v1/feedback", &rating(1, "service_result", "epgu", &signed, "")).await.0, 202);
    let links = json!({"journey": "scrap-metal-licensing", "stage": "service_result", "case_ref": " л-2026/117 "});
    let (status, links) = app.post_staff("/api/v1/email-links", &links).await;
    assert_eq!(status, 202, "{links}");
    assert!(links["history_url"].as_str().unwrap().contains("/history/"));
    let click = links["links"].as_array().unwrap()[4]["url"].as_str().unwrap().to_string();
    assert_eq!(app.http.get(click).send().await.unwrap().status(), 200);
    // Another client's case: first seen at the application, then back at an
    // earlier stage — which it has not left since, whatever came before.
    assert_eq!(app.post_staff("/api/v1/calls", &call(20, "application", OTHER)).await.0, 202);
    assert_eq!(app.post("/api/v1/feedback", &rating(2, "preparation", "site", OTHER, "чужое дело")).await.0, 202);
    assert_eq!(wait_for_rows(&app.storage, "case_touches", 9).await, 9);

    // Never in clear anywhere: the feedback rows keep no reference.
    let clear: u64 =
        app.storage.client().query("SELECT count() FROM feedback WHERE case_ref != ''").fetch_one().await.unwrap();
    assert_eq!(clear, 0);

    let token = api_token(&app.storage, Role::Analyst, &[]).await;
    let stages = durations(&app, &token).await;
    let by_id = |id: &str| stages.iter().find(|s| s["stage"] == id).unwrap().clone();
    // By hand: each stage lasts from its first contact to the first at a later stage.
    for (stage, from, to) in
        [("information_search", 40, 38), ("preparation", 38, 30), ("application", 30, 5), ("onsite_assessment", 5, 1)]
    {
        let s = by_id(stage);
        assert_eq!(s["moved_on"].as_u64(), Some(1), "{s}");
        assert_eq!(s["median_seconds"].as_u64(), Some(u64::from(at(to) - at(from))), "{stage}: {s}");
        assert_eq!(s["p90_seconds"], s["median_seconds"]);
    }
    // application has a legal deadline of 15 working days: past it or not by the shipped calendar.
    let catalog = touchpoint::journeys::Catalog::load(&repo().join("dashboards")).unwrap();
    let offset = time::UtcOffset::from_hms(3, 0, 0).unwrap();
    let ends = |days: u64| {
        let entered = std::time::UNIX_EPOCH + Duration::from_secs(u64::from(at(days)));
        touchpoint::domain::time::unix(catalog.calendar.deadline(entered, 15, offset))
    };
    let application = by_id("application");
    assert_eq!(application["legal_deadline_days"], 15);
    // This case moved on 5 days ago; the other one is still there.
    let past = u64::from(at(5) > ends(30)) + u64::from(at(0) > ends(20));
    assert_eq!(application["past_deadline"].as_u64(), Some(past), "{application}");
    assert_eq!(by_id("preparation")["past_deadline_share"], Value::Null, "no deadline, no share");
    let result = by_id("service_result");
    assert_eq!((result["reached"].as_u64(), result["still_there"].as_u64()), (Some(1), Some(1)), "{result}");
    let waited = result["still_there_median_seconds"].as_u64().unwrap();
    assert!((DAY..DAY + 60).contains(&waited), "since its first contact there a day ago: {waited}");
    for stage in ["preparation", "application"] {
        let s = by_id(stage);
        assert_eq!((s["reached"].as_u64(), s["moved_on"].as_u64()), (Some(2), Some(1)), "the other case too: {s}");
    }
    let waited = by_id("preparation")["still_there_median_seconds"].as_u64().unwrap();
    assert!((2 * DAY..2 * DAY + 60).contains(&waited), "the other case, back there two days ago: {waited}");

    // The analysts' timeline: the case's own contacts, in order, by its key only.
    let key = case_key(&app, &token).await;
    let timeline = analyst_get(&app, &token, &format!("/api/v1/case-refs/{key}/timeline")).await;
    let contacts = timeline["contacts"].as_array().unwrap();
    let kinds: Vec<&str> = contacts.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["call", "letter", "letter", "timing", "rating", "rating", "email_rating"]);
    assert_eq!((contacts[0]["transfers"].as_u64(), contacts[0]["score"].as_u64()), (Some(3), Some(4)));
    assert!(contacts[1]["answered_at"].as_u64().is_some() && contacts[3]["duration_ms"] == 5_400_000);
    assert_eq!(contacts[4]["comment"], "долго искал форму");
    assert!(!timeline.to_string().contains("чужое дело") && !timeline.to_string().contains(CASE));
    // The same as pages: the funnel, and the case found by its reference in a form.
    let page = app.http.get(format!("{}/dashboard/scrap-metal-licensing/stage-durations", app.address));
    let html = page.bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Заполнение заявления") && html.contains("15 раб. дн."), "{html}");
    let find = no_redirects().post(format!("{}/case-refs", app.address)).bearer_auth(&token);
    let found = find.form(&[("case_ref", CASE)]).send().await.unwrap();
    assert_eq!(found.status(), 303);
    let location = found.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("/case-refs/{key}"), "the reference leaves as its key only");
    let page = app.http.get(format!("{}{location}", app.address)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("долго искал форму") && html.contains("переводов: 3"), "{html}");
    assert!(!html.contains("чужое дело") && !html.contains(CASE), "{html}");
    for role in [Role::Handler, Role::Admin] {
        let units: &[&str] = if role == Role::Handler { &["licensing"] } else { &[] };
        let other = api_token(&app.storage, role, units).await;
        for path in [format!("/api/v1/case-refs/{key}/timeline"), format!("/case-refs/{key}")] {
            let refused = app.http.get(format!("{}{path}", app.address)).bearer_auth(&other).send().await.unwrap();
            assert_eq!(refused.status(), 403, "{role}: {path}");
            let body = refused.text().await.unwrap();
            assert!(!body.contains("contacts") && !body.contains("долго искал"), "{body}");
        }
    }

    // The client's history: that case, nothing of another.
    let page = app.http.get(&history_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Ваше дело") && html.contains("Телефонная связь"), "{html}");
    assert!(html.contains("долго искал форму") && html.contains("Письмо получено"), "{html}");
    assert!(!html.contains("чужое дело"), "another case's comment");
    assert_eq!(html.matches("<li").count(), 7, "{html}");
    app.stop().await;
}

#[tokio::test]
async fn a_forged_or_expired_history_link_shows_nothing() {
    let mut config = config();
    config.case_refs.history_link_ttl = Duration::from_secs(1);
    let app = spawn_app_with(config).await;
    let (status, answer) = app.post_staff("/api/v1/correspondence", &letter(3, "preparation", "post")).await;
    assert_eq!(status, 202);
    let url = answer["history_url"].as_str().unwrap().to_string();
    wait_for_rows(&app.storage, "case_touches", 1).await;
    let fresh = app.http.get(&url).send().await.unwrap();
    assert_eq!(fresh.status(), 200);
    assert!(fresh.text().await.unwrap().contains("Письмо получено"));

    let mut forged = url.clone().into_bytes();
    let last = forged.len() - 5;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    for bad in [String::from_utf8(forged).unwrap(), format!("{}/history/x", app.address)] {
        let response = app.http.get(&bad).send().await.unwrap();
        assert_eq!(response.status(), 404, "{bad}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Ссылка не работает") && !html.contains("Письмо"), "{html}");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = app.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 404, "expired");
    assert!(!expired.text().await.unwrap().contains("Письмо"));
    app.stop().await;
}

/// Readers may have chosen the build before a moment ago: it stays; older
/// ones go. Each build names the stage ids its numbers stand for.
#[tokio::test]
async fn a_rebuild_keeps_the_build_before_and_drops_older_ones() {
    let storage = crate::support::fresh_storage().await;
    let all = touchpoint::storage::migrations::Migration::embedded();
    touchpoint::storage::migrations::run(&storage, &all).await.unwrap();
    let catalog = touchpoint::journeys::Catalog::load(&repo().join("dashboards")).unwrap();
    let journey = catalog.journey("scrap-metal-licensing").unwrap();
    let mut insert = storage.client().insert::<touchpoint::storage::rows::TouchRow>("case_touches").await.unwrap();
    for (i, stage) in ["information_search", "application"].into_iter().enumerate() {
        let row = touchpoint::storage::rows::TouchRow {
            event_id: Uuid::new_v4(),
            case_key: [7; 16],
            at: before(10 - i as u64, 0).0,
            journey: journey.id.clone(),
            stage: stage.into(),
            touchpoint: "site".into(),
            kind: 1,
        };
        insert.write(&row).await.unwrap();
    }
    insert.end().await.unwrap();
    let offset = time::UtcOffset::UTC;

    for build in [100, 200, 300] {
        assert_eq!(touchpoint::dossiers::stages::rebuild(&storage, &catalog, offset, build).await.unwrap(), 2);
    }

    for table in ["case_stage_times", "case_stage_builds"] {
        let sql = format!("SELECT DISTINCT build FROM {table} ORDER BY build");
        let builds: Vec<u32> = storage.client().query(&sql).fetch_all().await.unwrap();
        assert_eq!(builds, [200, 300], "{table}");
    }
    let latest = touchpoint::dossiers::stages::journey_build(&storage, &journey.id).await.unwrap().unwrap();
    let ids: Vec<&str> = journey.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!((latest.build, latest.stages.iter().map(String::as_str).collect::<Vec<_>>()), (300, ids));
}

/// The client's history on a 360 px phone, then the analysts' funnel and case
/// pages reached by keyboard: no sideways scrolling, and axe finds nothing.
#[tokio::test]
async fn the_history_and_the_analysts_pages_pass_axe() {
    use crate::browser::{ENTER, axe, browser, keys};
    use fantoccini::Locator;
    let app = spawn_app_with(config()).await;
    let (_, answer) = app.post_staff("/api/v1/correspondence", &letter(3, "preparation", "post")).await;
    let history = answer["history_url"].as_str().unwrap().to_string();
    assert_eq!(app.post_staff("/api/v1/calls", &call(2, "application", CASE)).await.0, 202);
    wait_for_rows(&app.storage, "case_touches", 2).await;
    let (_driver, client) = browser(true).await;
    client.set_window_size(360, 740).await.unwrap();
    client.goto(&history).await.unwrap();
    client.wait().for_element(Locator::Css("main ol li")).await.unwrap();
    let fits: Value =
        client.execute("return document.documentElement.scrollWidth <= innerWidth", vec![]).await.unwrap();
    assert_eq!(fits, json!(true), "no sideways scrolling");
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "history: {violations:#?}");

    client.set_window_size(1280, 900).await.unwrap();
    touchpoint::accounts::auth::add_user(&app.storage, "lab", PASSWORD, &touchpoint::accounts::auth::Grant::analyst())
        .await
        .unwrap();
    let next = "/dashboard/scrap-metal-licensing/stage-durations";
    client.goto(&format!("{}/login?next={next}", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("lab").await.unwrap();
    let password = client.find(Locator::Css("input[name=password]")).await.unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    password.send_keys(ENTER).await.unwrap();
    client.wait().for_element(Locator::Css("meter")).await.unwrap();
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "durations: {violations:#?}");
    client.find(Locator::Css("input[name=case_ref]")).await.unwrap().click().await.unwrap();
    keys(&client, &format!("{CASE}{ENTER}")).await;
    client.wait().for_element(Locator::Css("table.queue tbody tr")).await.unwrap();
    assert!(client.current_url().await.unwrap().path().starts_with("/case-refs/"));
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "case: {violations:#?}");
    client.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_set_response_with_the_case_reference_is_in_its_timeline_and_the_clients_history() {
    let app = spawn_app_with(config()).await;
    let token = crate::support::analyst_token(&app.storage).await;
    let letter = letter(1, "service_result", "email");
    let (status, answer) = app.post_staff("/api/v1/correspondence", &letter).await;
    assert_eq!(status, 202, "{answer}");
    let history_url = answer["history_url"].as_str().unwrap().to_string();
    // From the client's own case page: the reference touchpoint signed.
    let signed = history_url.rsplit('/').next().unwrap();
    let set = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "onsite_assessment", "touchpoint": "in_person", "occurred_at": before(2, 0).1, "case_ref": signed,
        "answers": [{"question": "staff", "score": 2}, {"question": "time", "score": 4}]});
    let (status, body) = app.post("/api/v1/answers", &set).await;
    assert_eq!(status, 202, "{body}");
    crate::support::wait_for_rows(&app.storage, "case_touches", 2).await;

    let key = case_key(&app, &token).await;
    let timeline = analyst_get(&app, &token, &format!("/api/v1/case-refs/{key}/timeline")).await;
    let contacts = timeline["contacts"].as_array().unwrap();
    assert_eq!(contacts[0]["kind"], "answers", "{timeline}");
    assert_eq!(
        (contacts[0]["questions"].clone(), contacts[0]["scores"].clone()),
        (json!(["time", "staff"]), json!([4, 2]))
    );
    assert!(contacts[0]["case_status"].is_string(), "a 2 opened a case: {timeline}");
    let page = app.http.get(format!("{}/case-refs/{key}", app.address)).bearer_auth(&token).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("ответы на вопросы") && html.contains("Вежливость и компетентность сотрудника — 2"),
        "{html}"
    );

    let page = app.http.get(&history_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Ваши ответы на вопросы: Время предоставления услуги — 4; Вежливость"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn a_reference_anyone_may_know_links_for_the_lab_but_shows_nothing_on_the_clients_page() {
    let app = spawn_app_with(config()).await;
    let (status, answer) = app.post_staff("/api/v1/correspondence", &letter(3, "preparation", "post")).await;
    assert_eq!(status, 202);
    let history_url = answer["history_url"].as_str().unwrap().to_string();
    let signed = history_url.rsplit('/').next().unwrap().to_string();
    // A stranger who knows the application number posts "as" the client;
    // the client's own page passes the signed reference.
    assert_eq!(app.post("/api/v1/feedback", &rating(1, "preparation", "site", CASE, "чужие слова")).await.0, 202);
    assert_eq!(app.post("/api/v1/feedback", &rating(4, "preparation", "site", &signed, "мои слова")).await.0, 202);
    assert_eq!(wait_for_rows(&app.storage, "case_touches", 3).await, 3);
    wait_for_rows(&app.storage, "case_proofs", 1).await;

    let token = api_token(&app.storage, Role::Analyst, &[]).await;
    let key = case_key(&app, &token).await;
    let timeline = analyst_get(&app, &token, &format!("/api/v1/case-refs/{key}/timeline")).await;
    let text = timeline.to_string();
    assert!(text.contains("чужие слова") && text.contains("мои слова"), "the lab sees both: {text}");
    let html = app.http.get(&history_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("мои слова") && html.contains("Письмо получено"), "{html}");
    assert!(!html.contains("чужие слова"), "not shown as the client's: {html}");
    app.stop().await;
}
