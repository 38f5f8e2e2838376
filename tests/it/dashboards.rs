//! The analysts' side: auth everywhere, exact aggregates, charts, escaping,
//! CSV neutralisation, filters.

use serde_json::Value;
use touchpoint::accounts::auth;
use touchpoint::storage::rows::FeedbackRow;
use uuid::Uuid;

use crate::support::{PASSWORD, TestApp, no_redirects, spawn_app, spawn_app_with, test_config};

const JOURNEY: &str = "scrap-metal-licensing";

/// The dashboards' pages (also checked role by role in `roles`).
pub const PAGES: &[&str] = &[
    "/dashboard",
    "/dashboard/scrap-metal-licensing",
    "/dashboard/scrap-metal-licensing/export/stages.csv",
    "/dashboard/scrap-metal-licensing/export/feedback.csv",
];
/// The dashboards' read API.
pub const APIS: &[&str] = &[
    "/api/v1/journeys/scrap-metal-licensing/stats",
    "/api/v1/journeys/scrap-metal-licensing/charts/stages.svg",
    "/api/v1/journeys/scrap-metal-licensing/charts/heatmap.png",
];

/// Logs in as a fresh analyst; returns the session cookie.
async fn login(app: &TestApp) -> String {
    crate::support::sign_in_as(app, "olga", &auth::Grant::analyst()).await
}

async fn get_with(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    no_redirects().get(format!("{}{path}", app.address)).header("cookie", cookie).send().await.unwrap()
}

fn rating(stage: &str, touchpoint: &str, score: u8, segment: i8, comment: &str) -> FeedbackRow {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    FeedbackRow {
        event_id: Uuid::new_v4(),
        occurred_at: now - 3600,
        received_at: now - 3600,
        site: "demo".into(),
        journey: JOURNEY.into(),
        stage: stage.into(),
        touchpoint: touchpoint.into(),
        channel: touchpoint.into(),
        segment,
        scale: 1,
        score,
        emotion: if score <= 2 {
            -1
        } else if score >= 4 {
            1
        } else {
            0
        },
        comment: comment.into(),
        tags: vec![],
        reported_duration_ms: None,
        locale: "ru".into(),
        session_id: String::new(),
        page_path: String::new(),
        case_ref: String::new(),
    }
}

#[tokio::test]
async fn nothing_is_readable_without_a_login_or_a_token() {
    let app = spawn_app().await;

    for path in PAGES {
        let response = get_with(&app, path, "").await;
        assert_eq!(response.status(), 303, "{path}");
        assert!(response.headers()["location"].to_str().unwrap().starts_with("/login?next="), "{path}");
    }
    for path in APIS {
        let response = get_with(&app, path, "tp_session=olga.99999999999.forged").await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let wrong_token =
        no_redirects().get(format!("{}{}", app.address, APIS[0])).bearer_auth("tp_not-a-token").send().await.unwrap();
    assert_eq!(wrong_token.status(), 401);
}

#[tokio::test]
async fn a_session_or_an_api_token_opens_everything_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    let token = crate::support::analyst_token(&app.storage).await;

    for path in PAGES.iter().chain(APIS) {
        assert_eq!(get_with(&app, path, &cookie).await.status(), 200, "{path}");
    }
    for path in APIS {
        let response = no_redirects().get(format!("{}{path}", app.address)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let logout = no_redirects().post(format!("{}/logout", app.address)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(logout.status(), 303);
    assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_rate_limited() {
    let mut config = test_config();
    config.dashboards.login_burst = 3;
    let app = spawn_app_with(config).await;
    auth::add_user(&app.storage, "olga", PASSWORD, &auth::Grant::analyst()).await.unwrap();
    let attempt = |password: &'static str| {
        no_redirects().post(format!("{}/login", app.address)).form(&[("name", "olga"), ("password", password)]).send()
    };

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(attempt("wrong password!").await.unwrap().status().as_u16());
    }
    let limited = attempt(PASSWORD).await.unwrap();

    assert_eq!(statuses, vec![401, 401, 401]);
    assert_eq!(limited.status(), 429, "even the right password waits");
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_stage_aggregates_match_a_hand_computed_expectation() {
    let app = spawn_app().await;
    let token = crate::support::analyst_token(&app.storage).await;
    // Stage 1: csat 1, 2, 4, 5, 5, 3 → normalised 0, 25, 75, 100, 100, 50.
    let scores = [1u8, 2, 4, 5, 5, 3];
    let mut rows: Vec<FeedbackRow> = scores.iter().map(|&s| rating("information_search", "site", s, 2, "")).collect();
    // Stage 3: only two answers, under the threshold of five.
    rows.push(rating("application", "epgu", 5, 3, ""));
    rows.push(rating("application", "epgu", 4, 3, ""));
    app.insert_feedback(&rows).await;

    let stats = app.stats(&token, "period=7").await;

    let stage = &stats["stages"][0];
    let values = [0.0, 25.0, 75.0, 100.0, 100.0, 50.0];
    let mean = values.iter().sum::<f64>() / 6.0;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    let half = 1.96 * sd / 6f64.sqrt();
    assert_eq!(stage["n"], 6);
    assert!((stage["score"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert!((stage["ci95"][0].as_f64().unwrap() - (mean - half).max(0.0)).abs() < 1e-9);
    assert!((stage["ci95"][1].as_f64().unwrap() - (mean + half).min(100.0)).abs() < 1e-9);
    // 3 positive (4, 5, 5), 2 negative (1, 2) of 6.
    assert!((stage["emotion"].as_f64().unwrap() - 100.0 / 6.0).abs() < 1e-9);
    let application = &stats["stages"][2];
    assert_eq!((application["n"].as_u64(), application["too_few"].as_bool()), (Some(2), Some(true)));
    assert_eq!(application["score"], Value::Null, "too few answers is never shown as a number");
}

#[tokio::test]
async fn filters_change_the_result() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    let mut rows: Vec<FeedbackRow> = (0..5).map(|_| rating("information_search", "site", 5, 2, "")).collect();
    rows.extend((0..5).map(|_| rating("information_search", "phone", 1, 3, "")));
    app.insert_feedback(&rows).await;
    let stage = |body: Value| body["stages"][0].clone();

    let all = stage(get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/stats"), &cookie).await.json().await.unwrap());
    let legal = stage(
        get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/stats?segment=legal_entity"), &cookie)
            .await
            .json()
            .await
            .unwrap(),
    );
    let phone = stage(
        get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/stats?touchpoint=phone"), &cookie)
            .await
            .json()
            .await
            .unwrap(),
    );
    let bad = get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/stats?segment=aliens"), &cookie).await;

    assert_eq!((all["n"].as_u64(), all["score"].as_f64()), (Some(10), Some(50.0)));
    assert_eq!((legal["n"].as_u64(), legal["score"].as_f64()), (Some(5), Some(100.0)));
    assert_eq!((phone["n"].as_u64(), phone["score"].as_f64()), (Some(5), Some(0.0)));
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn every_chart_is_valid_svg_naming_every_stage_and_a_png() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    app.insert_feedback(&(0..6).map(|i| rating("preparation", "site", 1 + i % 5, 2, "")).collect::<Vec<_>>()).await;
    let catalog = touchpoint::journeys::Catalog::load(&crate::support::repo().join("dashboards")).unwrap();
    let stages = &catalog.journey(JOURNEY).unwrap().stages;

    for chart in ["stages", "time", "heatmap", "timeline", "standards"] {
        let svg = get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/charts/{chart}.svg"), &cookie).await;
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        let text = svg.text().await.unwrap();
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{chart}.svg is not valid XML: {e}"));
        if ["stages", "time", "heatmap", "timeline"].contains(&chart) {
            for stage in stages {
                let prefix: String = stage.name.ru.chars().take(10).collect();
                assert!(text.contains(&prefix), "{chart}.svg does not name stage {:?}", stage.id);
            }
        }
        let png = get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/charts/{chart}.png"), &cookie).await;
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
    assert_eq!(get_with(&app, &format!("/api/v1/journeys/{JOURNEY}/charts/pie.svg"), &cookie).await.status(), 404);
}

#[tokio::test]
async fn a_comment_with_a_script_is_shown_escaped_and_csv_formulas_are_neutralised() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    app.insert_feedback(&[
        rating("information_search", "site", 1, 2, "<script>alert('x')</script> долго"),
        rating("information_search", "site", 1, 2, "=HYPERLINK(\"http://evil\",\"click\")"),
    ])
    .await;

    let page = get_with(&app, &format!("/dashboard/{JOURNEY}"), &cookie).await.text().await.unwrap();
    let csv = get_with(&app, &format!("/dashboard/{JOURNEY}/export/feedback.csv"), &cookie).await.text().await.unwrap();

    assert!(!page.contains("<script>alert"), "the comment's tag must not reach the page as markup");
    let shown = page.split("comments").last().unwrap_or_default();
    assert!(
        shown.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; долго"),
        "escaped comment shown: {shown}"
    );
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.lines().any(|l| l.split(',').any(|cell| cell.trim_matches('"').starts_with('='))), "{csv}");
}

#[tokio::test]
async fn the_journey_page_shows_the_map_and_too_few_answers_as_such() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    app.insert_feedback(&[rating("onsite_assessment", "in_person", 5, 2, "")]).await;

    let page = get_with(&app, &format!("/dashboard/{JOURNEY}?period=7"), &cookie).await.text().await.unwrap();
    let english =
        get_with(&app, &format!("/dashboard/{JOURNEY}?period=7&lang=en"), &cookie).await.text().await.unwrap();

    assert!(page.contains("Проведение выездной оценки на соответствие лицензионным требованиям"));
    assert!(page.contains("Реализовать единое цифровое пространство"), "the lab's recommendation");
    assert!(page.contains("мало ответов</span>") || page.contains("мало ответов (n=1)"), "one answer is too few");
    assert_eq!(page.matches("<svg").count(), 5);
    assert!(english.contains("On-site assessment") && english.contains("too few answers"));
}

#[tokio::test]
async fn after_login_a_next_that_leaves_the_site_goes_to_the_dashboard() {
    // Arrange: browsers drop tabs and line breaks from a Location, so `/\t/evil.example` reads `//evil.example`.
    let app = spawn_app().await;
    auth::add_user(&app.storage, "olga", PASSWORD, &auth::Grant::analyst()).await.unwrap();

    for next in ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "//evil.example", "/dashboard"] {
        // Act
        let response = no_redirects()
            .post(format!("{}/login", app.address))
            .form(&[("name", "olga"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(response.headers()["location"], "/dashboard", "{next:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_link_to_a_view_or_download_carries_the_pages_filters() {
    let app = spawn_app().await;
    let cookie = login(&app).await;
    let filters = "period=7&segment=individual&lang=en";
    for page in ["", "/report", "/official"] {
        let path = format!("/dashboard/scrap-metal-licensing{page}?{filters}");
        let response = get_with(&app, &path, &cookie).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        let links: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|href| {
                href.starts_with("/dashboard/scrap-metal-licensing") || href.starts_with("/api/v1/journeys/")
            })
            .filter(|href| !href.contains("stage-durations"))
            .collect();
        assert!(links.len() >= 2, "{path}: {links:?}");
        for href in links {
            assert!(
                href.contains("period=7") && href.contains("segment=individual"),
                "{path} links to {href} without its filters"
            );
        }
    }
    app.stop().await;
}
