//! Every kind of event, posted again with the same id — in a row, at once,
//! after a restart, with the first copy still in the spool, through another
//! instance — is stored once in its raw table and counted once in every
//! rollup.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use touchpoint::config::Config;
use touchpoint::storage::Storage;
use touchpoint::storage::embedded::EmbeddedClickHouse;
use uuid::Uuid;

use crate::support::{STAFF_TOKEN, TestApp, ago, embedded_config, scratch, spawn_app, spawn_app_with, test_config};

/// One event of each kind, with fixed ids, and the paths of two rating links
/// of one letter (scores 2 and 5: one event id).
#[derive(Clone)]
pub struct Events {
    rating: Value,
    timings: Value,
    call: Value,
    letter: Value,
    click: String,
    other_click: String,
}

pub async fn events(app: &TestApp) -> Events {
    let place = |stage: &str, touchpoint: &str| json!({"site": "demo", "journey": "scrap-metal-licensing", "stage": stage, "touchpoint": touchpoint});
    let mut rating = place("application", "epgu");
    rating["event_id"] = json!(Uuid::new_v4());
    rating["scale"] = json!("csat");
    rating["score"] = json!(2);
    let mut timing = place("application", "epgu");
    timing["event_id"] = json!(Uuid::new_v4());
    timing["duration_ms"] = json!(90_000);
    timing["measure"] = json!("task");
    timing["source"] = json!("measured");
    let request = json!({"journey": "scrap-metal-licensing", "stage": "service_result", "case_ref": "Л-1"});
    let (status, links) = app.post_staff("/api/v1/email-links", &request).await;
    assert_eq!(status, 202, "{links}");
    let path = |score: u64| {
        let link = links["links"].as_array().unwrap().iter().find(|l| l["score"] == score).unwrap();
        let url = link["url"].as_str().unwrap();
        url[url.find("/r/").unwrap()..].to_string()
    };
    Events {
        rating,
        // The same timing twice in one request, too.
        timings: json!([timing.clone(), timing]),
        call: json!({
            "event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 30, "talk_seconds": 200,
            "transfers": 3, "resolved": true, "process": "consulting", "operator": "op-7",
            "journey": "scrap-metal-licensing", "stage": "information_search",
            "rating": {"scale": "csat", "score": 4}
        }),
        letter: json!({
            "event_id": Uuid::new_v4(), "letter_id": "Л-2026/117", "touchpoint": "email",
            "received_at": ago(7200).1, "acknowledged_at": ago(3600).1
        }),
        click: path(2),
        other_click: path(5),
    }
}

/// Posts every event once to the service at `address`; each must be
/// answered 202 with the id sent (the click: its thank-you page).
pub async fn post_all(http: &reqwest::Client, address: &str, events: &Events) {
    for (path, body, staff) in [
        ("/api/v1/feedback", &events.rating, false),
        ("/api/v1/timings", &events.timings, false),
        ("/api/v1/calls", &events.call, true),
        ("/api/v1/correspondence", &events.letter, true),
    ] {
        let mut request = http.post(format!("{address}{path}")).json(body);
        if staff {
            request = request.bearer_auth(STAFF_TOKEN);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "{path}: {answer}");
        let (sent, echoed) = match body.as_array() {
            Some(many) => (json!([many[0]["event_id"], many[1]["event_id"]]), answer["event_ids"].clone()),
            None => (body["event_id"].clone(), answer["event_id"].clone()),
        };
        assert_eq!(echoed, sent, "{path} answers with the ids sent");
    }
    let click = http.get(format!("{address}{}", events.click)).send().await.unwrap();
    assert_eq!(click.status(), 200);
}

/// Raw rows (no FINAL: a second copy would show) and rollup counts.
async fn counts(storage: &Storage) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for (name, sql) in [
        ("feedback", "SELECT toInt64(count()) FROM feedback"),
        ("timings", "SELECT toInt64(count()) FROM timings"),
        ("calls", "SELECT toInt64(count()) FROM calls"),
        ("correspondence", "SELECT toInt64(count()) FROM correspondence"),
        ("feedback_daily", "SELECT toInt64(sum(n)) FROM feedback_daily"),
        ("calls_daily", "SELECT toInt64(sum(n)) FROM calls_daily"),
        ("stage_time_daily", "SELECT toInt64(countMerge(n)) FROM stage_time_daily"),
        ("cases", "SELECT toInt64(count()) FROM cases"),
    ] {
        out.push((name, storage.client().query(sql).fetch_one::<i64>().await.unwrap()));
    }
    out
}

/// A rating, the call's rating and the click; one of everything else; a case
/// for the widget's csat 2, one for the call's three transfers and one for the
/// letter's first click (csat 2; the later click opens none).
pub const ONCE: [(&str, i64); 8] = [
    ("feedback", 3),
    ("timings", 1),
    ("calls", 1),
    ("correspondence", 1),
    ("feedback_daily", 3),
    ("calls_daily", 1),
    ("stage_time_daily", 1),
    ("cases", 3),
];

/// Waits up to 10 s for the counts to reach `expected`, then settles 2 s so
/// that a late second copy would show (a round ships within the flush
/// period, 1 s, plus the claims' settling, 0.5 s).
pub async fn assert_counts(storage: &Storage, expected: &[(&str, i64)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while counts(storage).await != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counts(storage).await, expected);
}

#[tokio::test]
async fn every_kind_repeated_in_a_row_and_at_once_is_stored_and_counted_once() {
    let app = spawn_app().await;
    let events = events(&app).await;

    post_all(&app.http, &app.address, &events).await;
    post_all(&app.http, &app.address, &events).await;
    let at_once: Vec<_> = (0..12)
        .map(|_| {
            let (http, address, events) = (app.http.clone(), app.address.clone(), events.clone());
            tokio::spawn(async move { post_all(&http, &address, &events).await })
        })
        .collect();
    for task in at_once {
        task.await.unwrap();
    }

    assert_counts(&app.storage, &ONCE).await;
    app.stop().await;
}

/// Retries of every event through `second` after `first` took them, and
/// both at once: what a balancer that spreads requests does.
pub async fn retried_through_both(first: &TestApp, second: &TestApp, events: &Events) {
    post_all(&first.http, &first.address, events).await;
    // Stored, and a second later: the retries' rows differ from the first
    // copies (their `received_at`), so a replicated table's deduplication of
    // identical blocks cannot be what keeps them out.
    assert_counts(&first.storage, &ONCE).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    post_all(&second.http, &second.address, events).await;
    let at_once: Vec<_> = (0..8)
        .map(|k| {
            let app = if k % 2 == 0 { first } else { second };
            let (http, address, events) = (app.http.clone(), app.address.clone(), events.clone());
            tokio::spawn(async move { post_all(&http, &address, &events).await })
        })
        .collect();
    for task in at_once {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn every_kind_retried_through_another_instance_is_stored_and_counted_once() {
    let first = spawn_app().await;
    let mut config = test_config();
    config.clickhouse.database = first.storage.database().to_string();
    config.background_jobs = false;
    let second = spawn_app_with(config).await;
    let events = events(&first).await;

    retried_through_both(&first, &second, &events).await;

    assert_counts(&first.storage, &ONCE).await;
    let token = crate::support::analyst_token(&first.storage).await;
    let left_out = |app: &TestApp| {
        let request = app.http.get(format!("{}/metrics", app.address)).bearer_auth(&token);
        async move {
            let body = request.send().await.unwrap().text().await.unwrap();
            let line = body.lines().find(|l| l.starts_with("touchpoint_events_stored_elsewhere_total ")).unwrap();
            line.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
        }
    };
    // The second's copies of the first post alone: a rating, a timing, a
    // call with its rating, a letter, a click, and a case for each of three.
    assert!(left_out(&second).await >= 5.0, "the second instance's copies were left out, and counted");
    assert_eq!(left_out(&first).await, 0.0, "the first stored every event it took first");
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_letter_update_and_a_second_click_are_updates_not_new_events() {
    let app = spawn_app().await;
    let mut events = events(&app).await;
    post_all(&app.http, &app.address, &events).await;

    events.letter["answered_at"] = json!(ago(60).1);
    for _ in 0..3 {
        assert_eq!(app.post_staff("/api/v1/correspondence", &events.letter).await.0, 202);
        assert_eq!(app.get(&events.other_click).await.status(), 200);
    }

    // One more row each (the new state), the correction taking the first
    // click out of the rollup: still three ratings counted.
    let expected = [("feedback", 4), ("timings", 1), ("calls", 1), ("correspondence", 2), ("feedback_daily", 3)];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let wanted = |c: &[(&str, i64)]| expected.iter().all(|e| c.contains(e));
    while !wanted(&counts(&app.storage).await) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = counts(&app.storage).await;
    assert!(wanted(&now), "{now:?}");
    let sum: f64 = app.storage.client().query("SELECT sum(sum) FROM feedback_daily").fetch_one().await.unwrap();
    assert_eq!(sum, 25.0 + 75.0 + 100.0, "widget csat 2, call csat 4, the click now csat 5");
    let answered: u64 = app
        .storage
        .client()
        .query("SELECT count() FROM correspondence FINAL WHERE isNotNull(answered_at)")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(answered, 1, "the latest state of the letter wins");
    app.stop().await;
}

#[tokio::test]
async fn a_repeat_after_a_restart_is_stored_once_as_clickhouse_remembers_it() {
    let config = test_config();
    let (database, spool) = (config.clickhouse.database.clone(), config.spool.dir.clone());
    let app = spawn_app_with(config).await;
    let events = events(&app).await;
    post_all(&app.http, &app.address, &events).await;
    assert_counts(&app.storage, &ONCE).await;
    app.stop().await;

    // A new process: its memory comes from what ClickHouse stored.
    repeat_in_a_new_process(test_config(), database, spool, &events).await;
}

/// A new process on the first one's database and spool posts every event
/// again: each is still stored and counted once.
async fn repeat_in_a_new_process(mut config: Config, database: String, spool: PathBuf, events: &Events) {
    config.clickhouse.database = database;
    config.spool.dir = spool;
    let restarted = spawn_app_with(config).await;
    post_all(&restarted.http, &restarted.address, events).await;
    assert_counts(&restarted.storage, &ONCE).await;
    restarted.stop().await;
}

#[tokio::test]
async fn a_repeat_of_events_still_in_the_spool_at_restart_is_stored_once() {
    // ClickHouse of the test's own, stopped while the first process runs, so
    // that everything it accepts is still in its spool when it stops.
    let server_config = embedded_config(&scratch("spool-recall-clickhouse"));
    let server = EmbeddedClickHouse::start(&server_config, "touchpoint").await.unwrap();
    let mut config = test_config();
    config.clickhouse.url = Some(server.endpoint().url.clone());
    config.clickhouse.password = server.endpoint().password.clone();
    config.spool.drain_timeout = Duration::from_millis(200);
    let (database, spool, password) =
        (config.clickhouse.database.clone(), config.spool.dir.clone(), config.clickhouse.password.clone());
    let app = spawn_app_with(config).await;
    let events = events(&app).await;
    server.stop().await.unwrap();
    post_all(&app.http, &app.address, &events).await;
    app.stop().await;
    let left: Vec<_> = std::fs::read_dir(&spool).unwrap().filter_map(|e| e.ok()).collect();
    assert!(left.iter().any(|e| e.path().extension().is_some_and(|x| x == "seg")), "the spool holds the events");

    let server = EmbeddedClickHouse::start(&server_config, "touchpoint").await.unwrap();
    let mut config = test_config();
    config.clickhouse.url = Some(server.endpoint().url.clone());
    config.clickhouse.password = password;
    repeat_in_a_new_process(config, database, spool, &events).await;
    server.stop().await.unwrap();
}
