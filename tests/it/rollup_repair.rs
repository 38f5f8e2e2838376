//! ClickHouse writes an INSERT's rows to the table, then to the views that
//! feed the rollups; stopped in between, it keeps the rows and loses the
//! rollups' share. The spool's replay finds those rows stored and must then
//! repair the rollups, once. The loss is made here on purpose: the views are
//! detached while the rows go in.

use std::time::Duration;

use secrecy::SecretString;
use touchpoint::storage::migrations::{self, Migration};
use touchpoint::storage::rows::{AnswersRow, CallRow, Event, FeedbackRow, TimingRow};
use touchpoint::storage::writer::Writer;
use touchpoint::storage::{Endpoint, Storage};
use uuid::Uuid;

use crate::support::{ago, fresh_storage, scratch, segments, spool_options};

const VIEWS: [&str; 5] = [
    "feedback_daily_mv",
    "stage_time_from_feedback_mv",
    "stage_time_from_timings_mv",
    "calls_daily_mv",
    "answers_daily_mv",
];

pub(crate) fn rating(occurred_at: u32, score: u8, reported_ms: Option<u64>) -> FeedbackRow {
    let json = serde_json::json!({
        "event_id": Uuid::new_v4(), "occurred_at": occurred_at, "received_at": occurred_at + 5, "site": "demo",
        "journey": "scrap-metal-licensing", "stage": "application", "touchpoint": "epgu", "channel": "web",
        "segment": 0, "scale": 1, "score": score, "emotion": if score >= 4 { 1 } else { 0 }, "comment": "",
        "tags": [], "reported_duration_ms": reported_ms, "locale": "ru", "session_id": "", "page_path": "",
        "case_ref": ""
    });
    serde_json::from_str(&json.to_string()).unwrap()
}

fn task_timing(occurred_at: u32, duration_ms: u64) -> TimingRow {
    let json = serde_json::json!({
        "event_id": Uuid::new_v4(), "occurred_at": occurred_at, "received_at": occurred_at + 5, "site": "demo",
        "journey": "scrap-metal-licensing", "stage": "application", "touchpoint": "epgu", "channel": "web",
        "segment": 0, "measure": 2, "source": 1, "duration_ms": duration_ms, "session_id": "", "page_path": ""
    });
    serde_json::from_str(&json.to_string()).unwrap()
}

fn call(started_at: u32, transfers: u8) -> CallRow {
    let json = serde_json::json!({
        "event_id": Uuid::new_v4(), "started_at": started_at, "received_at": started_at + 600,
        "journey": "scrap-metal-licensing", "stage": "information_search", "touchpoint": "phone",
        "process": "consulting", "operator": "op-1", "segment": 0, "wait_seconds": 30, "talk_seconds": 200,
        "transfers": transfers, "resolved": 1, "rating_scale": 1, "rating_score": null
    });
    serde_json::from_str(&json.to_string()).unwrap()
}

fn answers(occurred_at: u32, scores: &[u8]) -> AnswersRow {
    let questions = ["time", "queue", "staff", "premises", "information"];
    AnswersRow {
        event_id: Uuid::new_v4(),
        occurred_at,
        received_at: occurred_at + 5,
        site: "demo".into(),
        journey: "scrap-metal-licensing".into(),
        stage: "onsite_assessment".into(),
        touchpoint: "in_person".into(),
        channel: "in_person".into(),
        segment: 0,
        question_set: "vk5".into(),
        questions: questions[..scores.len()].iter().map(|q| q.to_string()).collect(),
        scores: scores.to_vec(),
        comment: String::new(),
        locale: String::new(),
        session_id: String::new(),
        page_path: String::new(),
    }
}

/// Writes `events` to a spool in `dir` while ClickHouse cannot be reached,
/// so that they stay there as segments a next start ships.
pub(crate) async fn spool_offline(dir: &std::path::Path, events: Vec<Event>) {
    let nowhere = Endpoint {
        url: "http://127.0.0.1:9".parse().unwrap(),
        user: "default".into(),
        password: SecretString::from(""),
    };
    let metrics = touchpoint::metrics::Metrics::new();
    let (queue, writer) = Writer::start(
        &Storage::new(&nowhere, "nowhere"),
        spool_options(dir),
        Duration::from_millis(300),
        metrics,
        &|_| {},
    )
    .unwrap();
    for event in events {
        queue.push_all(vec![event]).await.unwrap();
    }
    drop(queue);
    writer.finish(tokio::time::Instant::now() + Duration::from_secs(3600)).await;
}

/// Ships what the spool in `dir` holds, as a start of the service would.
pub(crate) async fn ship(storage: &Storage, dir: &std::path::Path) {
    let metrics = touchpoint::metrics::Metrics::new();
    let (queue, writer) =
        Writer::start(storage, spool_options(dir), Duration::from_secs(20), metrics, &|_| {}).unwrap();
    drop(queue);
    writer.finish(tokio::time::Instant::now() + Duration::from_secs(3600)).await;
}

async fn views(storage: &Storage, verb: &str) {
    for view in VIEWS {
        storage.client().query(&format!("{verb} TABLE {view}")).execute().await.unwrap();
    }
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Deserialize)]
struct Rollups {
    ratings: i64,
    score_sum: f64,
    positive: i64,
    calls: i64,
    over_two_transfers: i64,
    timed: u64,
    median: f64,
    responses: i64,
    answered: i64,
    answer_sum: i64,
    fives: i64,
}

async fn rollups(storage: &Storage) -> Rollups {
    let sql = "SELECT \
        (SELECT sum(n) FROM feedback_daily) AS ratings, (SELECT sum(sum) FROM feedback_daily) AS score_sum, \
        (SELECT sum(positive) FROM feedback_daily) AS positive, (SELECT sum(n) FROM calls_daily) AS calls, \
        (SELECT sum(over_two_transfers) FROM calls_daily) AS over_two_transfers, \
        (SELECT countMerge(n) FROM stage_time_daily) AS timed, \
        (SELECT quantilesMerge(0.5, 0.9)(q)[1] FROM stage_time_daily) AS median, \
        (SELECT sum(responses) FROM answers_daily) AS responses, (SELECT sum(n) FROM answers_daily) AS answered, \
        (SELECT sum(sum) FROM answers_daily) AS answer_sum, (SELECT sum(n5) FROM answers_daily) AS fives";
    storage.client().query(sql).fetch_one().await.unwrap()
}

#[tokio::test]
async fn rows_stored_without_their_views_are_added_to_the_rollups_once() {
    // Arrange: ratings (some with a reported time), task timings and calls of
    // yesterday, spooled while ClickHouse was away.
    let storage = fresh_storage().await;
    migrations::run(&storage, &Migration::embedded()).await.unwrap();
    // An hour into yesterday (UTC): no row falls on another day.
    let yesterday = (ago(86_400).0 / 86_400) * 86_400 + 3_600;
    let ratings: Vec<FeedbackRow> = (0..30)
        .map(|i| rating(yesterday + i, 1 + (i % 5) as u8, (i % 3 == 0).then_some(60_000 + u64::from(i))))
        .collect();
    let timings: Vec<TimingRow> = (0..20).map(|i| task_timing(yesterday + i, 1_000 * u64::from(i + 1))).collect();
    let calls: Vec<CallRow> = (0..10).map(|i| call(yesterday + i, (i % 4) as u8)).collect();
    let sets: Vec<AnswersRow> = (0..8).map(|i| answers(yesterday + i, &[5, 4, 3][..1 + (i as usize % 3)])).collect();
    let dir = scratch("rollup-repair");
    let events = ratings.iter().cloned().map(Event::Feedback);
    let events = events.chain(timings.iter().cloned().map(Event::Timing)).chain(calls.iter().cloned().map(Event::Call));
    let events = events.chain(sets.iter().cloned().map(Event::Answers));
    spool_offline(&dir, events.collect()).await;

    // The rollups as they are when nothing goes wrong: the same rows through the views.
    let reference = fresh_storage().await;
    migrations::run(&reference, &Migration::embedded()).await.unwrap();
    crate::support::insert_rows(&reference, "feedback", &ratings).await;
    crate::support::insert_rows(&reference, "timings", &timings).await;
    crate::support::insert_rows(&reference, "calls", &calls).await;
    crate::support::insert_rows(&reference, "answers", &sets).await;
    let expected = rollups(&reference).await;
    assert_eq!((expected.ratings, expected.calls, expected.timed), (30, 10, 30), "{expected:?}");
    assert_eq!((expected.responses, expected.answered, expected.fives), (8, 15, 8), "{expected:?}");

    // Act: ClickHouse had stored the ratings and calls but lost their views'
    // share; the timings went through their view. Then the spool replays.
    views(&storage, "DETACH").await;
    crate::support::insert_rows(&storage, "feedback", &ratings).await;
    crate::support::insert_rows(&storage, "calls", &calls).await;
    crate::support::insert_rows(&storage, "answers", &sets).await;
    views(&storage, "ATTACH").await;
    crate::support::insert_rows(&storage, "timings", &timings).await;
    let lost = rollups(&storage).await;
    assert_eq!((lost.ratings, lost.answered), (0, 0), "the loss is in place");
    let saved = scratch("rollup-repair-copy");
    for file in segments(&dir) {
        std::fs::copy(&file, saved.join(file.file_name().unwrap())).unwrap();
    }
    ship(&storage, &dir).await;

    // Assert: every rollup as if nothing had happened, and a second replay of
    // the same segments changes nothing.
    assert_eq!(rollups(&storage).await, expected);
    assert!(segments(&dir).is_empty(), "the replayed segments are deleted");
    for file in segments(&saved) {
        std::fs::copy(&file, dir.join(file.file_name().unwrap())).unwrap();
    }
    ship(&storage, &dir).await;
    assert_eq!(rollups(&storage).await, expected);
    let raw: u64 = storage.client().query("SELECT count() FROM feedback").fetch_one().await.unwrap();
    assert_eq!(raw, 30, "no rating inserted twice");
}
