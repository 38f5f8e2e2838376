//! Arbitrary header values on every public and authenticated route: never a
//! 5xx, errors in our JSON shape, and nothing stored but what got a 202.
//! The parsers' own property tests are unit tests (extract, email, limits).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::header::{HeaderName, HeaderValue};
use uuid::Uuid;

use crate::support::{count_rows, spawn_app_with, test_config, wait_for_rows};

/// Cases per run; the README counts them.
const CASES: u32 = 256;

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/feedback"),
    ("POST", "/api/v1/timings"),
    ("POST", "/api/v1/calls"),
    ("POST", "/api/v1/correspondence"),
    ("POST", "/api/v1/email-links"),
    ("GET", "/r/not-a-token"),
    ("GET", "/api/v1/journeys/scrap-metal-licensing/stats"),
    ("GET", "/dashboard/scrap-metal-licensing"),
    ("GET", "/metrics"),
];

/// Any bytes a header value may hold (visible ASCII, obs-text, tab), or a
/// plausible value, so that some requests get through to the handlers.
fn value(plausible: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let any = prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..120);
    prop_oneof![any, prop::sample::select(plausible).prop_map(|s| s.as_bytes().to_vec())]
}

fn body(path: &str) -> serde_json::Value {
    let ids = serde_json::json!({
        "event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu"
    });
    let mut body = ids.as_object().unwrap().clone();
    let extra = if path.ends_with("timings") {
        serde_json::json!({ "duration_ms": 1000, "measure": "dwell", "source": "measured" })
    } else {
        serde_json::json!({ "scale": "csat", "score": 4 })
    };
    body.extend(extra.as_object().unwrap().clone());
    serde_json::Value::Object(body)
}

#[tokio::test]
async fn arbitrary_headers_never_cause_a_5xx_or_a_stray_row() {
    // Arrange
    let mut config = test_config();
    config.limits.per_ip_burst = 100_000;
    let app = spawn_app_with(config).await;
    let headers = (
        value(&["http://localhost", "http://127.0.0.1", "null"]),
        value(&["application/json", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]),
        value(&["Bearer tp_x", "Bearer ", "Basic Zm9vOmJhcg=="]),
        value(&["tp_session=x.y", "tp_session="]),
        value(&["10.0.0.1", "unknown, 1.2.3.4"]),
    );
    let strategy = (0..ROUTES.len(), headers);
    let mut runner = TestRunner::new(Config { cases: CASES, ..Config::default() });
    let names = ["origin", "content-type", "authorization", "cookie", "x-forwarded-for"];
    let (mut feedback, mut timings) = (0, 0);

    // Act and assert, case by case
    for _ in 0..CASES {
        let (route, (origin, content_type, authorization, cookie, forwarded)) =
            strategy.new_tree(&mut runner).unwrap().current();
        let (method, path) = ROUTES[route];
        let mut request = match method {
            "GET" => app.http.get(format!("{}{path}", app.address)),
            _ => app.http.post(format!("{}{path}", app.address)).body(body(path).to_string()),
        };
        let values = [origin, content_type, authorization, cookie, forwarded];
        for (name, bytes) in names.iter().zip(&values) {
            if let Ok(value) = HeaderValue::from_bytes(bytes) {
                request = request.header(HeaderName::from_static(name), value);
            }
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let shown: Vec<String> = values.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        assert!(status.as_u16() < 500, "{method} {path} with {shown:?}: {status}");
        if status.is_client_error() && path.starts_with("/api/") {
            let html = response.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
            let text = response.text().await.unwrap_or_default();
            if html {
                // A no-JS form post gets a page, by design, with the error shown.
                assert!(path.ends_with("/feedback") && text.contains("role=\"alert\""), "{path}: {text}");
            } else {
                let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                assert!(body["error"]["code"].is_string(), "{method} {path} with {shown:?}: {status} {text:?}");
            }
        }
        if status == 202 {
            match path {
                "/api/v1/feedback" => feedback += 1,
                "/api/v1/timings" => timings += 1,
                _ => panic!("{method} {path} accepted with {shown:?}"),
            }
        }
    }

    // Assert: exactly what was accepted, and some was.
    assert!(feedback + timings > 0, "no case got through to a handler");
    assert_eq!(wait_for_rows(&app.storage, "feedback", feedback).await, feedback);
    assert_eq!(wait_for_rows(&app.storage, "timings", timings).await, timings);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(count_rows(&app.storage, "feedback").await, feedback);
}
