//! The OpenAPI document lists every route, and every route it lists exists.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::spawn_app;

const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/journeys"),
    ("get", "/api/v1/journeys/{id}"),
    ("get", "/api/v1/touchpoints"),
    ("post", "/api/v1/feedback"),
    ("post", "/api/v1/answers"),
    ("post", "/api/v1/offers"),
    ("get", "/api/v1/journeys/{id}/official"),
    ("get", "/widget/questions/{site}/{journey}/{stage}"),
    ("get", "/widget/time.js"),
    ("post", "/api/v1/timings"),
    ("get", "/r/{token}"),
    ("post", "/r/{token}"),
    ("post", "/api/v1/calls"),
    ("post", "/api/v1/correspondence"),
    ("post", "/api/v1/email-links"),
    ("get", "/widget.js"),
    ("get", "/embed/{site}/{journey}/{stage}"),
    ("get", "/embed/{site}/{journey}/{stage}/questions"),
    ("get", "/api/v1/journeys/{id}/stats"),
    ("get", "/api/v1/journeys/{id}/charts/{chart}"),
    ("get", "/api/v1/journeys/{id}/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{id}"),
    ("post", "/api/v1/cases/{id}/changes"),
    ("get", "/api/v1/journeys/{id}/stage-durations"),
    ("post", "/api/v1/case-refs/key"),
    ("get", "/api/v1/case-refs/{key}/timeline"),
    ("post", "/api/v1/register/changes"),
    ("get", "/api/v1/register/changes"),
    ("post", "/api/v1/register/changes/{id}/approve"),
    ("post", "/api/v1/register/changes/{id}/reject"),
    ("get", "/api/v1/register/versions"),
    ("get", "/api/v1/register/versions/{version}"),
    ("post", "/api/v1/register/versions/{version}/published"),
    ("get", "/api/v1/register/diff"),
    ("get", "/api/v1/journeys/{id}/recommendations"),
    ("post", "/api/v1/recommendations"),
    ("post", "/api/v1/recommendations/{id}"),
    ("get", "/api/v1/recommendations/{id}/history"),
];

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let app = spawn_app().await;

    let (status, spec) = app.get_json("/api/v1/openapi.json").await;

    assert_eq!(status, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);

    for (method, path) in &documented {
        let url = format!(
            "{}{}",
            app.address,
            path.replace("{id}", "scrap-metal-licensing")
                .replace("{token}", "x.y")
                .replace("{site}", "demo")
                .replace("{journey}", "scrap-metal-licensing")
                .replace("{stage}", "application")
                .replace("{chart}", "stages.svg")
        );
        let request = match method.as_str() {
            "get" => app.http.get(&url),
            _ => app.http.post(&url).header("content-type", "application/json").body("{}"),
        };
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap_or(Value::Null);
        assert!(
            !(status == 404 && body["error"]["field"] == "path"),
            "{method} {path} is documented but no route serves it"
        );
        assert_ne!(status, 405, "{method} {path}");
    }
    assert_eq!(spec["components"]["securitySchemes"]["staff_token"]["scheme"], "bearer");
    assert!(spec["components"]["schemas"]["FeedbackInput"]["properties"]["score"].is_object());
}
