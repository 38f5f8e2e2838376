//! Every page a browser shows carries the security headers its content
//! calls for, and forms are only taken from the service's own pages.

use serde_json::{Value, json};
use touchpoint::accounts::auth;

use crate::support::{PASSWORD, TestApp, no_redirects, spawn_app};

async fn session(app: &TestApp) -> String {
    crate::support::sign_in_as(app, "olga", &auth::Grant::analyst()).await
}

async fn rating_link(app: &TestApp) -> String {
    let request = json!({"journey": "scrap-metal-licensing", "stage": "service_result", "case_ref": "Л-1"});
    let (status, body) = app.post_staff("/api/v1/email-links", &request).await;
    assert_eq!(status, 202, "{body}");
    body["links"][0]["url"].as_str().unwrap().to_string()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

fn assert_private(response: &reqwest::Response, what: &str) {
    let csp = header(response, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{what}: {csp:?}");
    assert_eq!(header(response, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(response, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(response, "referrer-policy"), "same-origin", "{what}");
    assert_eq!(header(response, "cache-control"), "no-store", "{what}");
}

#[tokio::test]
async fn pages_exports_charts_and_rating_links_may_not_be_framed_cached_or_sniffed() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    let journey = "/dashboard/scrap-metal-licensing";
    let api = "/api/v1/journeys/scrap-metal-licensing";
    for path in [
        "/login".to_string(),
        "/dashboard".into(),
        journey.into(),
        format!("{journey}/export/stages.csv"),
        format!("{journey}/export/feedback.csv"),
        format!("{api}/stats"),
        format!("{api}/charts/stages.svg"),
        format!("{api}/charts/heatmap.png"),
    ] {
        let response =
            no_redirects().get(format!("{}{path}", app.address)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_private(&response, &path);
    }
    let login_needed = no_redirects().get(format!("{}/dashboard", app.address)).send().await.unwrap();
    assert_private(&login_needed, "the redirect to the login page");

    let link = rating_link(&app).await;
    let thanks = app.http.get(&link).send().await.unwrap();
    assert_eq!(thanks.status(), 200);
    assert_private(&thanks, "a rating link's page");
}

#[tokio::test]
async fn the_embeddable_form_may_be_framed_by_its_site_only_and_is_not_sniffed() {
    let app = spawn_app().await;
    let embed = app.get("/embed/demo/scrap-metal-licensing/application").await;
    assert_eq!(embed.status(), 200);
    let csp = header(&embed, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'self' http://localhost:* http://127.0.0.1:*"), "{csp}");
    assert_eq!(header(&embed, "x-content-type-options"), "nosniff");
    assert_eq!(header(&embed, "referrer-policy"), "same-origin");
    assert_eq!(header(&embed, "x-frame-options"), "", "X-Frame-Options would forbid the site's frame");
    let script = app.get("/widget.js").await;
    assert_eq!(header(&script, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn forms_sent_from_another_site_are_refused() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    let own = app.address.trim_start_matches("http://").to_string();
    let post = |path: &str, from: &[(&'static str, String)]| {
        let mut request = no_redirects().post(format!("{}{path}", app.address)).header("cookie", &cookie);
        for (name, value) in from {
            request = request.header(*name, value);
        }
        let form: &[(&str, &str)] =
            if path.starts_with("/r/") { &[("comment", "x")] } else { &[("name", "olga"), ("password", PASSWORD)] };
        request.form(form).send()
    };
    let cross_site = [
        vec![("origin", "https://evil.example".to_string())],
        vec![("sec-fetch-site", "cross-site".to_string()), ("origin", format!("http://{own}"))],
        vec![("origin", "null".to_string())],
    ];
    let link = rating_link(&app).await;
    let link_path = link.trim_start_matches(&app.address).to_string();
    for path in ["/login", "/logout", link_path.as_str()] {
        for from in &cross_site {
            let response = post(path, from).await.unwrap();
            assert_eq!(response.status(), 403, "{path} {from:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["field"], "origin", "{body}");
        }
    }
    let same_origin = [("sec-fetch-site", "same-origin".to_string()), ("origin", format!("http://{own}"))];
    assert_eq!(post("/login", &same_origin).await.unwrap().status(), 303);
    assert_eq!(post("/login", &[("origin", format!("http://{own}"))]).await.unwrap().status(), 303);
    assert_eq!(post("/logout", &same_origin).await.unwrap().status(), 303);
    assert_eq!(post(&link_path, &same_origin).await.unwrap().status(), 200, "the thank-you page's comment");
}

#[tokio::test]
async fn every_json_answer_metrics_and_error_is_neither_cached_nor_sniffed() {
    use touchpoint::domain::Role;
    let mut config = crate::support::test_config();
    config.dashboards_dir = crate::support::catalog_with_units();
    let app = crate::support::spawn_app_with(config).await;
    let low = json!({"event_id": uuid::Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": 1, "comment": "мои слова"});
    let accepted = app.post_json("/api/v1/feedback", &low).await;
    assert_eq!(accepted.status(), 202);
    let mut answers = vec![("POST /api/v1/feedback".to_string(), accepted)];
    crate::support::wait_for_rows(&app.storage, "cases", 1).await;
    let analyst = crate::support::analyst_token(&app.storage).await;
    let unit: String = app.storage.client().query("SELECT unit FROM cases").fetch_one().await.unwrap();
    let handler = crate::support::api_token(&app.storage, Role::Handler, &[&unit]).await;
    for (token, path) in [
        (&analyst, "/api/v1/journeys/scrap-metal-licensing/stats".to_string()),
        (&analyst, "/api/v1/journeys/scrap-metal-licensing/official".into()),
        (&analyst, "/api/v1/journeys/scrap-metal-licensing/cases".into()),
        (&analyst, "/metrics".into()),
        (&handler, "/api/v1/cases".into()),
        (&handler, format!("/api/v1/cases/{}", low["event_id"].as_str().unwrap())),
        (&analyst, "/api/v1/cases".into()),
        (&analyst, "/api/v1/no-such-route".into()),
    ] {
        let response = app.http.get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
        answers.push((format!("GET {path} ({})", response.status()), response));
    }
    for (what, response) in &answers {
        assert_eq!(header(response, "cache-control"), "no-store", "{what}");
        assert_eq!(header(response, "x-content-type-options"), "nosniff", "{what}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_json_api_refuses_a_cross_site_request_signed_in_by_a_session() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    let token = crate::support::analyst_token(&app.storage).await;
    let body = json!({"journey": "scrap-metal-licensing", "stage": "application", "text_ru": "Проверка",
        "text_en": "Check", "owner_unit": "licensing", "measure": "stage_score", "aim": "up"})
    .to_string();
    let post = |headers: Vec<(&'static str, String)>| {
        let mut request = no_redirects()
            .post(format!("{}/api/v1/recommendations", app.address))
            .header("content-type", "text/plain")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let own = app.address.trim_start_matches("http://").to_string();
    for foreign in [
        vec![("origin", "https://evil.example".to_string())],
        vec![("sec-fetch-site", "same-site".to_string()), ("origin", "https://sub.evil.example".to_string())],
    ] {
        let mut headers = foreign.clone();
        headers.push(("cookie", cookie.clone()));
        let refused = post(headers).await.unwrap();
        assert_eq!(refused.status(), 403, "{foreign:?}");
        assert_eq!(refused.json::<Value>().await.unwrap()["error"]["field"], "origin");
        // A script's bearer token is no ambient authority: no page can send it.
        let mut headers = foreign;
        headers.push(("authorization", format!("Bearer {token}")));
        assert_ne!(post(headers).await.unwrap().status(), 403);
    }
    let ours = post(vec![("cookie", cookie.clone()), ("origin", format!("http://{own}"))]).await.unwrap();
    assert_ne!(ours.status(), 403, "the service's own pages may");
    app.stop().await;
}
