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

    // The budgets of issue 18: the single-question widget, and with the set form.
    let set = app.get("/widget/questions/demo/scrap-metal-licensing/onsite_assessment").await;
    assert_eq!(set.status(), 200);
    let set = set.text().await.unwrap();
    assert!(set.starts_with(touchpoint::widget::QUESTIONS_JS) && set.contains("\"Комфортность условий в помещении\""));
    let en = app.get("/widget.js?lang=en").await.text().await.unwrap();
    assert_eq!(en, touchpoint::widget::WIDGET_EN_JS);
    let time = app.get("/widget/time.js").await.text().await.unwrap();
    assert_eq!(time, touchpoint::widget::TIME_JS);
    for (name, script, budget) in [("ru", &body, 3 * 1024), ("en", &en, 3 * 1024)] {
        let size = gzipped(script);
        assert!(size <= budget, "widget.js ({name}) is {size} bytes gzipped; budget {budget}");
        let together = size + gzipped(&set);
        assert!(together <= 5 * 1024, "with the set form {together} bytes gzipped; the budget is 5 KB");
        let together = size + gzipped(&time);
        assert!(together <= 5 * 1024, "with the time question {together} bytes gzipped; the budget is 5 KB");
    }
    assert_eq!(app.get("/widget/questions/demo/scrap-metal-licensing/application").await.status(), 404, "no set there");
}

fn gzipped(text: &str) -> usize {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap().len()
}

/// The served scripts are what esbuild makes of their sources now
/// (`scripts/build-widget.sh`): an edit of a source without a rebuild fails here.
#[test]
fn the_minified_scripts_are_built_from_their_sources() {
    let dir = crate::support::repo().join("src/widget");
    let build = |source: &str, define: Option<&str>| {
        let mut command = std::process::Command::new("esbuild");
        command.args(["--minify", "--charset=utf8", "--log-level=warning"]).arg(dir.join(source));
        if let Some(lang) = define {
            command.arg(format!("--define:LANG=\"{lang}\""));
        }
        let out = command.output().expect("esbuild runs (apt-get install -y esbuild)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(build("widget.js", Some("ru")), touchpoint::widget::WIDGET_JS, "run scripts/build-widget.sh");
    assert_eq!(build("widget.js", Some("en")), touchpoint::widget::WIDGET_EN_JS, "run scripts/build-widget.sh");
    assert_eq!(build("questions.js", None), touchpoint::widget::QUESTIONS_JS, "run scripts/build-widget.sh");
    assert_eq!(build("time.js", Some("ru")), touchpoint::widget::TIME_JS, "run scripts/build-widget.sh");
    assert_eq!(build("time.js", Some("en")), touchpoint::widget::TIME_EN_JS, "run scripts/build-widget.sh");
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
