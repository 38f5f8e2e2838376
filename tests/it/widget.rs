//! The widget over HTTP; the browser tests are in `browser.rs`.

use std::io::Write as _;

use crate::support::{count_rows, spawn_app, wait_for_rows};

#[tokio::test]
async fn the_widget_is_served_small_with_an_etag_and_revalidates() {
    let app = spawn_app().await;

    let first = app.get("/widget.js").await;
    assert_eq!(first.status(), 200);
    assert!(first.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let etag = first.headers()["etag"].clone();
    let body = first.text().await.unwrap();
    assert_eq!(body, touchpoint::widget::WIDGET_JS);
    assert!(!body.contains("eval(") && !body.contains("document.cookie"));

    let again = app.http.get(format!("{}/widget.js", app.address)).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(body.as_bytes()).unwrap();
    let size = gz.finish().unwrap().len();
    assert!(size <= 5 * 1024, "widget.js is {size} bytes gzipped; the budget is 5 KB");
}

#[tokio::test]
async fn the_no_js_page_posts_a_plain_form_that_lands() {
    let app = spawn_app().await;

    let page = app.get("/embed/demo/scrap-metal-licensing/application?lang=en").await;

    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'self' http://localhost:* http://127.0.0.1:*"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("How did it go?") && html.contains("name=\"score\""));
    assert!(!html.contains("<script"));
    let event_id = html.split("name=\"event_id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // What a browser with JavaScript off sends when the form is submitted,
    // with the Origin of the page itself.
    let form = [
        ("event_id", event_id.as_str()),
        ("site", "demo"),
        ("journey", "scrap-metal-licensing"),
        ("stage", "application"),
        ("touchpoint", "epgu"),
        ("scale", "csat"),
        ("locale", "en"),
        ("score", "3"),
        ("tags", "form_errors"),
        ("tags", "service_outage"),
        ("comment", ""),
    ];
    let body = serde_html_form::to_string(form).unwrap();
    let thanks = app
        .http
        .post(format!("{}/api/v1/feedback", app.address))
        .header("origin", &app.address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(thanks.status(), 200);
    assert!(thanks.text().await.unwrap().contains("Thank you"));
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let tags: Vec<String> = app.storage.client().query("SELECT tags FROM feedback FINAL").fetch_one().await.unwrap();
    assert_eq!(tags, vec!["form_errors", "service_outage"]);
}

#[tokio::test]
async fn the_embed_page_of_an_unknown_stage_or_site_is_404() {
    let app = spawn_app().await;
    for path in ["/embed/demo/scrap-metal-licensing/payment", "/embed/nobody/scrap-metal-licensing/application"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert_eq!(count_rows(&app.storage, "feedback").await, 0);
}
