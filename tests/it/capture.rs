//! Feedback and timings: what is sent lands in ClickHouse, field by field.

use std::time::Duration;

use serde_json::{Value, json};
use touchpoint::storage::rows::{FeedbackRow, TimingRow};
use uuid::Uuid;

use crate::support::{TestApp, ago, count_rows, spawn_app, spawn_app_with, test_config, wait_for_rows};

/// A time `secs` ahead of now, as RFC 3339.
fn ahead(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(secs)).to_string()
}

/// When the fixture's contact happened: two days ago, inside the 7 days accepted.
const OCCURRED_SECS_AGO: u64 = 2 * 24 * 3600;

fn rating(event_id: Uuid) -> Value {
    json!({
        "event_id": event_id,
        "site": "demo",
        "journey": "scrap-metal-licensing",
        "stage": "information_search",
        "touchpoint": "site",
        "scale": "csat",
        "score": 2,
        "comment": "Долго искал форму заявления <script>alert(1)</script>",
        "tags": ["hard_to_find"],
        "segment": "legal_entity",
        "reported_duration_ms": 5_400_000,
        "locale": "ru-RU",
        "session_id": "s-123",
        "page_path": "/licenzirovanie/?inn=7700000000#top",
        "occurred_at": ago(OCCURRED_SECS_AGO).1
    })
}

async fn feedback_rows(app: &TestApp) -> Vec<FeedbackRow> {
    app.storage.client().query("SELECT ?fields FROM feedback FINAL ORDER BY event_id").fetch_all().await.unwrap()
}

#[tokio::test]
async fn a_rating_lands_with_every_field_as_sent() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();

    let body = rating(id);
    let occurred_at: u32 = humantime::parse_rfc3339(body["occurred_at"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let (status, body) = app.post("/api/v1/feedback", &body).await;

    assert_eq!(status, 202, "{body}");
    assert_eq!(body["event_id"], id.to_string());
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let row = feedback_rows(&app).await.remove(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    assert!(row.received_at.abs_diff(now) < 60, "received_at {}", row.received_at);
    assert_eq!(
        row,
        FeedbackRow {
            event_id: id,
            occurred_at,
            received_at: row.received_at,
            site: "demo".into(),
            journey: "scrap-metal-licensing".into(),
            stage: "information_search".into(),
            touchpoint: "site".into(),
            channel: "site".into(),
            segment: 2,
            scale: 1,
            score: 2,
            emotion: -1, // derived: csat 2 is negative
            comment: "Долго искал форму заявления <script>alert(1)</script>".into(),
            tags: vec!["hard_to_find".into()],
            reported_duration_ms: Some(5_400_000),
            locale: "ru-RU".into(),
            session_id: "s-123".into(),
            page_path: "/licenzirovanie/".into(), // query and fragment dropped
            case_ref: String::new(),
        }
    );
}

#[tokio::test]
async fn a_retry_with_the_same_event_id_is_stored_once() {
    let app = spawn_app().await;
    let body = rating(Uuid::new_v4());

    let first = app.post("/api/v1/feedback", &body).await;
    let second = app.post("/api/v1/feedback", &body).await;

    assert_eq!((first.0, second.0), (reqwest::StatusCode::ACCEPTED, reqwest::StatusCode::ACCEPTED));
    // The same answer, but a follow link only for the first post (issue 28).
    assert_eq!(first.1["event_id"], second.1["event_id"]);
    assert!(first.1["follow_url"].is_string() && second.1.get("follow_url").is_none(), "{second:?}");
    wait_for_rows(&app.storage, "feedback", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let raw: u64 = app.storage.client().query("SELECT count() FROM feedback").fetch_one().await.unwrap();
    assert_eq!(raw, 1, "the retry never reached ClickHouse");
}

#[tokio::test]
async fn the_no_javascript_form_gets_a_thank_you_page_and_lands() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let form = [
        ("event_id", id.to_string()),
        ("site", "demo".into()),
        ("journey", "scrap-metal-licensing".into()),
        ("stage", "application".into()),
        ("touchpoint", "epgu".into()),
        ("scale", "csat".into()),
        ("score", "5".into()),
        ("comment", "Всё получилось".into()),
        ("tags", "easy".into()),
    ];

    let response = app.http.post(format!("{}/api/v1/feedback", app.address)).form(&form).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Спасибо за оценку"));
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let row = feedback_rows(&app).await.remove(0);
    assert_eq!((row.event_id, row.score, row.emotion, row.tags), (id, 5, 1, vec!["easy".to_string()]));
}

#[tokio::test]
async fn a_bad_form_gets_an_error_page_not_json() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(format!("{}/api/v1/feedback", app.address))
        .form(&[("site", "demo"), ("score", "9")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Оценка не сохранена"));
}

/// A change to a valid rating.
type Change = Box<dyn Fn(&mut Value)>;

/// Each case: a change to a valid rating, the status and the field named.
#[tokio::test]
async fn every_bad_value_is_refused_naming_its_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Change, u16, Option<&str>)> = vec![
        ("score out of range", Box::new(|v| v["score"] = json!(6)), 422, Some("score")),
        ("score of the wrong type", Box::new(|v| v["score"] = json!("five")), 422, Some("score")),
        ("score missing", Box::new(|v| drop(v.as_object_mut().unwrap().remove("score"))), 422, Some("score")),
        ("unknown scale", Box::new(|v| v["scale"] = json!("stars")), 422, Some("scale")),
        ("scale as a number", Box::new(|v| v["scale"] = json!(0)), 422, Some("scale")),
        ("unknown field", Box::new(|v| v["email"] = json!("a@b.c")), 422, Some("email")),
        ("unknown site", Box::new(|v| v["site"] = json!("elsewhere")), 422, Some("site")),
        ("unknown journey", Box::new(|v| v["journey"] = json!("fishing-licence")), 422, Some("journey")),
        ("unknown stage", Box::new(|v| v["stage"] = json!("payment")), 422, Some("stage")),
        ("touchpoint not at the stage", Box::new(|v| v["touchpoint"] = json!("epgu")), 422, Some("touchpoint")),
        ("comment too long", Box::new(|v| v["comment"] = json!("я".repeat(2001))), 422, Some("comment")),
        ("tag not of the stage", Box::new(|v| v["tags"] = json!(["service_outage"])), 422, Some("tags")),
        ("occurred 8 days ago", Box::new(|v| v["occurred_at"] = json!(ago(8 * 24 * 3600).1)), 422, Some("occurred_at")),
        ("occurred ahead of the clock", Box::new(|v| v["occurred_at"] = json!(ahead(600))), 422, Some("occurred_at")),
        ("occurred_at not a time", Box::new(|v| v["occurred_at"] = json!("yesterday")), 422, Some("occurred_at")),
        ("bad event id", Box::new(|v| v["event_id"] = json!("42")), 422, Some("event_id")),
        ("unknown segment", Box::new(|v| v["segment"] = json!("alien")), 422, Some("segment")),
        ("path without slash", Box::new(|v| v["page_path"] = json!("licenzirovanie")), 422, Some("page_path")),
    ];
    for (case, edit, status, field) in cases {
        let mut body = rating(Uuid::new_v4());
        edit(&mut body);

        let (got, answer) = app.post("/api/v1/feedback", &body).await;

        assert_eq!(got.as_u16(), status, "{case}: {answer}");
        assert_eq!(answer["error"]["field"].as_str(), field, "{case}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count_rows(&app.storage, "feedback").await, 0);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_get_400_413_415() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/feedback", app.address);

    let broken =
        app.http.post(&url).header("content-type", "application/json").body("{\"score\": ").send().await.unwrap();
    let huge =
        app.http.post(&url).header("content-type", "application/json").body(vec![b' '; 70_000]).send().await.unwrap();
    let xml = app.http.post(&url).header("content-type", "application/xml").body("<rating/>").send().await.unwrap();

    for (response, status, code) in
        [(broken, 400, "malformed"), (huge, 413, "too_large"), (xml, 415, "unsupported_media_type")]
    {
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
}

#[tokio::test]
async fn a_page_from_a_foreign_origin_may_not_post_for_the_site() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(format!("{}/api/v1/feedback", app.address))
        .header("origin", "https://evil.example")
        .json(&rating(Uuid::new_v4()))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    assert!(!response.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn cors_preflight_allows_the_sites_origins_on_any_port_and_no_other() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/timings", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    let allowed = preflight("http://localhost:5173").await.unwrap();
    let refused = preflight("https://evil.example").await.unwrap();

    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:5173");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert!(!refused.headers().contains_key("access-control-allow-origin"));
}

fn timing(event_id: Uuid, duration_ms: u64) -> Value {
    json!({
        "event_id": event_id,
        "site": "demo",
        "journey": "scrap-metal-licensing",
        "stage": "application",
        "touchpoint": "epgu",
        "duration_ms": duration_ms,
        "measure": "dwell",
        "source": "measured",
        "session_id": "s-9",
        "page_path": "/apply"
    })
}

#[tokio::test]
async fn timings_land_one_at_a_time_or_twenty_at_once() {
    let app = spawn_app().await;
    let single = Uuid::new_v4();
    let batch: Vec<Value> = (0..20).map(|i| timing(Uuid::new_v4(), 1000 + i)).collect();

    let (one, answer) = app.post("/api/v1/timings", &timing(single, 42_000)).await;
    let (many, answers) = app.post("/api/v1/timings", &Value::Array(batch)).await;

    assert_eq!((one.as_u16(), many.as_u16()), (202, 202), "{answer} {answers}");
    assert_eq!(answer["event_id"], single.to_string());
    assert_eq!(answers["event_ids"].as_array().unwrap().len(), 20);
    assert_eq!(wait_for_rows(&app.storage, "timings", 21).await, 21);
    let row: TimingRow = app
        .storage
        .client()
        .query("SELECT ?fields FROM timings FINAL WHERE event_id = ?")
        .bind(single.to_string())
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((row.stage.as_str(), row.touchpoint.as_str(), row.channel.as_str()), ("application", "epgu", "epgu"));
    assert_eq!((row.duration_ms, row.measure, row.source, row.segment), (42_000, 1, 1, 0));
    assert_eq!((row.session_id.as_str(), row.page_path.as_str()), ("s-9", "/apply"));
    let sum: u64 = app.storage.client().query("SELECT sum(duration_ms) FROM timings FINAL").fetch_one().await.unwrap();
    assert_eq!(sum, 42_000 + (0..20).map(|i| 1000 + i).sum::<u64>());
}

#[tokio::test]
async fn one_bad_timing_refuses_the_whole_array_naming_its_index() {
    let app = spawn_app().await;
    let mut batch: Vec<Value> = (0..5).map(|_| timing(Uuid::new_v4(), 1000)).collect();
    batch[3]["duration_ms"] = json!(-5);
    let too_many: Vec<Value> = (0..51).map(|_| timing(Uuid::new_v4(), 1)).collect();

    let (status, answer) = app.post("/api/v1/timings", &Value::Array(batch)).await;
    let (status_many, _) = app.post("/api/v1/timings", &Value::Array(too_many)).await;

    assert_eq!(status, 422);
    assert_eq!(answer["error"]["field"], "[3].duration_ms");
    assert_eq!(status_many, 422);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count_rows(&app.storage, "timings").await, 0);
}

#[tokio::test]
async fn beyond_the_burst_an_address_gets_429_with_retry_after_then_recovers() {
    let mut config = test_config();
    config.limits.per_ip_burst = 3;
    config.limits.per_ip_per_second = 2;
    let app = spawn_app_with(config).await;

    for _ in 0..3 {
        assert_eq!(app.post("/api/v1/timings", &timing(Uuid::new_v4(), 1)).await.0, 202);
    }
    let refused = app.post_json("/api/v1/timings", &timing(Uuid::new_v4(), 1)).await;

    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&wait), "Retry-After {wait}");
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.post("/api/v1/timings", &timing(Uuid::new_v4(), 1)).await.0, 202);
}

#[tokio::test]
async fn a_site_over_its_own_limit_gets_429() {
    let mut config = test_config();
    config.limits.per_site_burst = 2;
    config.limits.per_site_per_second = 1;
    let app = spawn_app_with(config).await;

    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..3 {
            s.push(app.post("/api/v1/feedback", &rating(Uuid::new_v4())).await.0.as_u16());
        }
        s
    };

    assert_eq!(statuses, vec![202, 202, 429]);
}

#[tokio::test]
async fn stopping_flushes_every_accepted_event() {
    let mut config = test_config();
    config.limits.per_ip_burst = 10_000;
    config.limits.per_site_burst = 10_000;
    // A period far longer than the test: only the shutdown flush can write these.
    config.capture.flush_period = Duration::from_secs(3600);
    let app = spawn_app_with(config).await;
    let storage = app.storage.clone();
    let n = 300;
    for i in 0..n {
        let body = if i % 2 == 0 { rating(Uuid::new_v4()) } else { timing(Uuid::new_v4(), i) };
        let path = if i % 2 == 0 { "/api/v1/feedback" } else { "/api/v1/timings" };
        assert_eq!(app.post(path, &body).await.0, 202);
    }
    assert_eq!(count_rows(&storage, "feedback").await, 0, "nothing written before the stop");

    app.stop().await;

    assert_eq!(count_rows(&storage, "feedback").await + count_rows(&storage, "timings").await, n);
}

#[tokio::test]
async fn characters_no_person_types_are_dropped_from_a_stored_comment() {
    let app = spawn_app().await;
    let mut body = rating(Uuid::new_v4());
    body["comment"] = json!("\u{feff}Долго\u{0} ждал\u{202e} ответа\u{1b}");

    let (status, answer) = app.post("/api/v1/feedback", &body).await;

    assert_eq!(status, 202, "{answer}");
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    assert_eq!(feedback_rows(&app).await.remove(0).comment, "Долго ждал ответа");
}
