//! Faults on the path of an accepted event: ClickHouse going away mid-load,
//! the disk cap, and a segment that reached ClickHouse but was not deleted.
//! Each test bounds its waits; `kill -9` of the binary is in `cli`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use touchpoint::storage::embedded::EmbeddedClickHouse;
use touchpoint::storage::migrations::{self, Migration};
use touchpoint::storage::rows::{Event, FeedbackRow};
use touchpoint::storage::spool::SpoolOptions;
use touchpoint::storage::writer::Writer;
use touchpoint::storage::{Endpoint, Storage};
use uuid::Uuid;

use crate::support::{
    TestApp, embedded_config, fresh_storage, scratch, segments, spawn_app_with, spool_options, test_config,
};

/// A thumbs-up rating of the example journey for the public endpoint.
fn rating(event_id: Uuid) -> serde_json::Value {
    serde_json::json!({
        "event_id": event_id, "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "thumbs", "score": 1
    })
}

/// Rows as stored, not deduplicated: a row inserted twice counts twice.
async fn raw_count(storage: &Storage, table: &str) -> u64 {
    storage.client().query(&format!("SELECT count() FROM {table}")).fetch_one().await.unwrap()
}

/// Ratings the daily rollup counts; a replayed row would be counted again here
/// even after ReplacingMergeTree collapsed it in `feedback`.
async fn rollup_ratings(storage: &Storage) -> i64 {
    storage.client().query("SELECT sum(n) FROM feedback_daily").fetch_one().await.unwrap()
}

/// Waits until `feedback` holds `n` rows (raw), or `limit`.
async fn wait_for_feedback(storage: &Storage, n: u64, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let count = storage.client().query("SELECT count() FROM feedback").fetch_one::<u64>().await.unwrap_or(0);
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A local ClickHouse of the test's own (the test stops it) and an app on it.
async fn app_on_own_server(name: &str, max_bytes: Option<u64>) -> (TestApp, EmbeddedClickHouse, std::path::PathBuf) {
    let data = scratch(name);
    let server = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();
    let mut config = test_config();
    config.clickhouse.url = Some(server.endpoint().url.clone());
    config.clickhouse.password = server.endpoint().password.clone();
    config.limits.per_ip_burst = 1_000_000;
    config.limits.per_site_burst = 1_000_000;
    if let Some(max) = max_bytes {
        config.spool.max_bytes = max;
    }
    let app = spawn_app_with(config).await;
    (app, server, data)
}

#[tokio::test]
async fn every_rating_accepted_while_clickhouse_was_down_lands_exactly_once() {
    // Arrange
    let (app, server, data) = app_on_own_server("spool-outage", None).await;
    let app = Arc::new(app);
    let accepted = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let stream = || {
        let (app, accepted, done) = (app.clone(), accepted.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let (status, body) = app.post("/api/v1/feedback", &rating(Uuid::new_v4())).await;
                assert_eq!(status, 202, "{body}");
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let reach = |n: u64| {
        let accepted = accepted.clone();
        async move {
            while accepted.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            accepted.load(Ordering::Relaxed)
        }
    };

    // Act: a load in four streams; ClickHouse stops under it and comes back.
    let streams: Vec<_> = (0..4).map(|_| stream()).collect();
    let before = reach(200).await;
    server.stop().await.unwrap();
    let stopped = reach(accepted.load(Ordering::Relaxed) + 300).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // INSERTs fail and back off
    let restarted = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();
    reach(accepted.load(Ordering::Relaxed) + 200).await;
    done.store(true, Ordering::Relaxed);
    for stream in streams {
        stream.await.unwrap();
    }
    let total = accepted.load(Ordering::Relaxed);

    // Assert
    assert!(before < stopped && stopped < total, "accepted before, during and after the outage");
    let landed = wait_for_feedback(&app.storage, total, Duration::from_secs(30)).await;
    assert_eq!(landed, total, "every 202 is in ClickHouse");
    tokio::time::sleep(Duration::from_millis(500)).await; // nothing more arrives late
    assert_eq!(raw_count(&app.storage, "feedback").await, total, "no row inserted twice");
    assert_eq!(rollup_ratings(&app.storage).await, total as i64, "the rollup counts each rating once");
    Arc::try_unwrap(app).ok().expect("the load is over").stop().await;
    restarted.stop().await.unwrap();
}

#[tokio::test]
async fn the_disk_cap_refuses_with_503_and_accepts_again_once_shipped() {
    // Arrange: a 1 MiB spool and ClickHouse down, so nothing leaves it.
    let (app, server, data) = app_on_own_server("spool-cap", Some(1 << 20)).await;
    server.stop().await.unwrap();
    let batch = |n: usize| -> serde_json::Value {
        (0..n)
            .map(|_| {
                serde_json::json!({
                    "event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
                    "stage": "application", "touchpoint": "epgu", "measure": "task",
                    "source": "measured", "duration_ms": 60_000, "page_path": "/apply/".repeat(30)
                })
            })
            .collect()
    };

    // Act: fill the spool.
    let mut accepted = 0u64;
    let refusal = loop {
        let response = app.post_json("/api/v1/timings", &batch(50)).await;
        if response.status() != 202 {
            break response;
        }
        accepted += 50;
        assert!(accepted < 100_000, "the cap never bit");
    };

    // Assert: a clear 503, then recovery once ClickHouse takes the spool.
    assert_eq!(refusal.status(), 503);
    assert!(refusal.headers().contains_key("retry-after"));
    let body: serde_json::Value = refusal.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(accepted > 1000, "the cap is about 1 MiB of events, not less: {accepted}");
    let restarted = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body) = app.post("/api/v1/timings", &batch(50)).await;
        if status == 202 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 202, "accepted again once the spool shipped: {body}");
    let expected = accepted + 50;
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw_count(&app.storage, "timings").await < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(raw_count(&app.storage, "timings").await, expected, "every accepted timing, once, none refused");
    app.stop().await;
    restarted.stop().await.unwrap();
}

fn row(event_id: Uuid, received_at: u32, score: u8) -> FeedbackRow {
    let json = serde_json::json!({
        "event_id": event_id, "occurred_at": 1_763_900_000, "received_at": received_at, "site": "demo",
        "journey": "scrap-metal-licensing", "stage": "application", "touchpoint": "epgu", "channel": "web",
        "segment": 0, "scale": 1, "score": score, "emotion": 0, "comment": "", "tags": [],
        "reported_duration_ms": null, "locale": "ru", "session_id": "", "page_path": "", "case_ref": ""
    });
    serde_json::from_str(&json.to_string()).unwrap()
}

#[tokio::test]
async fn a_segment_that_reached_clickhouse_but_was_not_deleted_is_not_counted_again() {
    // Arrange: spool 200 ratings (one of them later replaced, with its
    // correction) while ClickHouse cannot be reached; keep a copy of the files.
    let storage = fresh_storage().await;
    migrations::run(&storage, &Migration::embedded()).await.unwrap();
    let nowhere = Endpoint {
        url: "http://127.0.0.1:9".parse().unwrap(),
        user: "default".into(),
        password: SecretString::from(""),
    };
    let dir = scratch("spool-replay");
    let metrics = touchpoint::metrics::Metrics::new();
    let unreachable = Storage::new(&nowhere, "nowhere");
    // This run syncs before every answer (group commit); the next ones every 5 ms.
    let strict = SpoolOptions { sync_interval: Duration::ZERO, ..spool_options(&dir) };
    let (queue, writer) =
        Writer::start(&unreachable, strict, Duration::from_millis(300), metrics.clone(), &|_| {}).unwrap();
    let first = row(Uuid::new_v4(), 1_763_900_000, 5);
    for i in 0..199 {
        queue.push_all(vec![Event::Feedback(row(Uuid::new_v4(), 1_763_900_000, 1 + (i % 5) as u8))]).await.unwrap();
    }
    queue.push_all(vec![Event::Feedback(first.clone())]).await.unwrap();
    let replacing = FeedbackRow { received_at: first.received_at + 1, score: 1, ..first.clone() };
    let correction = touchpoint::ingest::correction(&first, &replacing).unwrap();
    queue.push_all(vec![Event::Correction(correction), Event::Feedback(replacing)]).await.unwrap();
    drop(queue);
    writer.finish(tokio::time::Instant::now() + Duration::from_secs(3600)).await;
    let kept = scratch("spool-replay-copy");
    let files = segments(&dir);
    assert!(!files.is_empty(), "nothing could be shipped");
    for file in &files {
        std::fs::copy(file, kept.join(file.file_name().unwrap())).unwrap();
    }

    // Act: ship them; then put the shipped files back, as if the service died
    // between the INSERTs and the delete, and start again.
    for _ in 0..2 {
        let (queue, writer) =
            Writer::start(&storage, spool_options(&dir), Duration::from_secs(20), metrics.clone(), &|_| {}).unwrap();
        drop(queue);
        writer.finish(tokio::time::Instant::now() + Duration::from_secs(3600)).await;
        assert!(segments(&dir).is_empty(), "shipped segments are deleted");
        for file in &files {
            std::fs::copy(kept.join(file.file_name().unwrap()), file).unwrap();
        }
    }

    // Assert: 201 writes of 200 ratings, counted once in the rollup.
    assert!(raw_count(&storage, "feedback").await <= 201, "no rating inserted twice");
    assert_eq!(raw_count(&storage, "feedback_corrections").await, 1, "the correction was not replayed");
    assert_eq!(rollup_ratings(&storage).await, 200);
    let scores: f64 = storage.client().query("SELECT sum(sum) FROM feedback_daily").fetch_one().await.unwrap();
    // 199 ratings cycling 1..5 on the CSAT scale (0, 25, 50, 75, 100) plus the replaced one, now 1 → 0.
    let expected: f64 = (0..199).map(|i| f64::from((i % 5) as u8) * 25.0).sum();
    assert_eq!(scores, expected);
}

/// One `/metrics` value, by the exact series name.
async fn metric(app: &TestApp, token: &str, series: &str) -> f64 {
    let text = app.http.get(format!("{}/metrics", app.address)).bearer_auth(token).send().await.unwrap();
    let text = text.text().await.unwrap();
    let line =
        text.lines().find(|l| l.starts_with(&format!("{series} "))).unwrap_or_else(|| panic!("{series}\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_refused_insert_shows_as_a_stalled_shipper_and_the_spool_catches_up_exactly_once() {
    // Arrange: ClickHouse answers, but the table the ratings go to is gone.
    let mut config = test_config();
    config.capture.stall_after = Duration::from_secs(1);
    let app = spawn_app_with(config).await;
    let token = crate::support::analyst_token(&app.storage).await;
    let client = app.storage.client();
    client.query("RENAME TABLE feedback TO feedback_away").execute().await.unwrap();

    // Act
    for _ in 0..20 {
        assert_eq!(app.post("/api/v1/feedback", &rating(Uuid::new_v4())).await.0, 202);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, body) = loop {
        let (status, body) = app.get_json("/readyz").await;
        if status == 503 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Assert: not ready, and the spool shows what waits; then it catches up.
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("has not shipped"), "{message}");
    assert!(metric(&app, &token, "touchpoint_spool_bytes").await > 0.0);
    assert!(metric(&app, &token, "touchpoint_spool_oldest_age_seconds").await >= 1.0);
    assert!(metric(&app, &token, "touchpoint_clickhouse_errors_total{table=\"feedback\"}").await >= 1.0);
    assert_eq!(metric(&app, &token, "touchpoint_events_spooled_total").await, 20.0);
    client.query("RENAME TABLE feedback_away TO feedback").execute().await.unwrap();
    assert_eq!(wait_for_feedback(&app.storage, 20, Duration::from_secs(30)).await, 20);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(raw_count(&app.storage, "feedback").await, 20, "no row inserted twice");
    assert_eq!(rollup_ratings(&app.storage).await, 20);
    assert_eq!(metric(&app, &token, "touchpoint_spool_bytes").await, 0.0);
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_under_concurrent_requests_writes_every_record_once() {
    // Arrange: sync before every answer; nothing can ship, so the files keep all.
    let dir = scratch("spool-group-commit");
    let strict = SpoolOptions { sync_interval: Duration::ZERO, ..spool_options(&dir) };
    let nowhere = Endpoint { url: "http://127.0.0.1:9".parse().unwrap(), user: "default".into(), password: "".into() };
    let metrics = touchpoint::metrics::Metrics::new();
    let (queue, writer) =
        Writer::start(&Storage::new(&nowhere, "x"), strict, Duration::from_millis(100), metrics, &|_| {}).unwrap();

    // Act: eight streams of 200 requests, some of two events (one record each).
    let streams: Vec<_> = (0..8)
        .map(|stream| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..200u32 {
                    let rows: Vec<FeedbackRow> =
                        (0..1 + i % 2).map(|_| row(Uuid::new_v4(), 1_763_900_000 + stream, 3)).collect();
                    ids.extend(rows.iter().map(|r| r.event_id));
                    queue.push_all(rows.into_iter().map(Event::Feedback).collect()).await.unwrap();
                }
                ids
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for stream in streams {
        let ids = tokio::time::timeout(Duration::from_secs(30), stream).await.expect("every request answered");
        accepted.extend(ids.unwrap());
    }
    drop(queue);
    writer.finish(tokio::time::Instant::now() + Duration::from_secs(3600)).await;

    // Assert: the segments hold exactly the accepted events.
    let mut stored = Vec::new();
    for file in segments(&dir) {
        let (events, damaged) = touchpoint::storage::spool::read_segment(&file).unwrap();
        assert_eq!(damaged, 0, "{}", file.display());
        stored.extend(events.into_iter().map(|e| match e {
            Event::Feedback(r) => r.event_id,
            other => panic!("{other:?}"),
        }));
    }
    assert_eq!(accepted.len(), 2400);
    stored.sort();
    accepted.sort();
    assert_eq!(stored, accepted);
}

#[tokio::test]
async fn a_second_process_on_the_same_spool_folder_is_refused() {
    let dir = scratch("spool-lock");
    let storage = fresh_storage().await;
    let metrics = touchpoint::metrics::Metrics::new();
    let (_queue, _writer) =
        Writer::start(&storage, spool_options(&dir), Duration::from_secs(1), metrics.clone(), &|_| {}).unwrap();

    let second = Writer::start(&storage, spool_options(&dir), Duration::from_secs(1), metrics, &|_| {});

    let err = second.err().expect("the folder is taken");
    assert!(err.to_string().contains("another touchpoint process uses this folder"), "{err}");
}
