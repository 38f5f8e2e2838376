//! The widget in a real headless Chromium (Debian's, driven by chromedriver):
//! keyboard and mouse ratings, time on page, a strict CSP, a 360 px screen,
//! the no-JS page, and axe-core. Screenshots go to target/screenshots/.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::IntoResponse;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use touchpoint::storage::rows::{FeedbackRow, TimingRow};

use crate::support::{TestApp, free_port, spawn_app, wait_for_rows};

pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
const RIGHT: &str = "\u{E014}";
const DOWN: &str = "\u{E015}";

/// chromedriver on a free port, killed when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn browser(javascript: bool) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs (./scripts/test.sh installs chromium-driver)");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let profile = crate::support::scratch("chromium");
    let mut options = json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,900", format!("--user-data-dir={}", profile.display())],
    });
    if !javascript {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&driver.url).await {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Serves test pages on a port of their own (another origin than the app).
pub async fn serve_pages(pages: Vec<(&'static str, String, Option<String>)>) -> String {
    let mut router = axum::Router::new();
    for (path, html, csp) in pages {
        router = router.route(
            path,
            axum::routing::get(move || {
                let (html, csp) = (html.clone(), csp.clone());
                async move {
                    let mut response = axum::response::Html(html).into_response();
                    if let Some(csp) = csp {
                        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp.parse().unwrap());
                    }
                    response
                }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

fn page(app: &TestApp, lang: &str, attrs: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Лицензирование</title></head>\
         <body><main><h1>Подача заявления</h1><p>Текст страницы.</p><div id=\"rate\"></div></main>\
         <script async src=\"{}/widget.js\" data-site=\"demo\" data-journey=\"scrap-metal-licensing\" \
         data-stage=\"application\" data-touchpoint=\"epgu\" {attrs}></script></body></html>",
        app.address
    )
}

/// An element inside the widget's shadow root, once it is there.
async fn in_widget(client: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(host) = client.find(Locator::Css("[data-touchpoint-widget]")).await
            && let Ok(root) = host.shadow_root().await
            && let Ok(found) = root.find(Locator::Css(css)).await
        {
            return found;
        }
        assert!(Instant::now() < deadline, "{css} never appeared in the widget");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn widget_text(client: &Client, css: &str) -> String {
    let script = "const r = document.querySelector('[data-touchpoint-widget]').shadowRoot.querySelector(arguments[0]);\
                  return r ? r.textContent : null;";
    client.execute(script, vec![json!(css)]).await.unwrap().as_str().unwrap_or_default().to_string()
}

async fn wait_text(client: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while widget_text(client, css).await != want {
        assert!(Instant::now() < deadline, "{css} never read {want:?}, it reads {:?}", widget_text(client, css).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn keys(client: &Client, keys: &str) {
    client.active_element().await.unwrap().send_keys(keys).await.unwrap();
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

/// axe-core, installed by ./scripts/test.sh from the npm registry.
fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe-core/package/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (./scripts/test.sh installs axe-core)", path.display()))
}

/// Runs axe-core (WCAG 2.1 A and AA) on the page as it is; returns the violations.
pub async fn axe(client: &Client) -> Vec<Value> {
    client.execute(&axe_source(), vec![]).await.unwrap();
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})\
                .then(r => done(r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.html)}))), e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    result.as_array().unwrap_or_else(|| panic!("axe failed: {result}")).clone()
}

#[tokio::test]
async fn a_client_rates_by_keyboard_with_a_russian_comment_and_time_on_page_is_measured() {
    let app = spawn_app().await;
    let pages = serve_pages(vec![(
        "/apply",
        page(&app, "ru", "data-mode=\"inline\" data-target=\"#rate\" data-ask-time=\"true\""),
        None,
    )])
    .await;
    let (_driver, client) = browser(true).await;

    client.goto(&format!("{pages}/apply")).await.unwrap();
    in_widget(&client, "input[type=radio]").await;
    in_widget(&client, "select").await; // the time question, loaded on demand
    // The page learns the application number late and hands it on.
    let late = "document.querySelector('script[data-site]').dataset.case = 'Л-2026/117'";
    client.execute(late, vec![]).await.unwrap();
    keys(&client, TAB).await; // the first score
    keys(&client, &RIGHT.repeat(3)).await; // 1 → 4
    keys(&client, TAB).await; // the time question
    keys(&client, &DOWN.repeat(2)).await; // «5–15 минут»
    keys(&client, TAB).await; // the comment
    keys(&client, "Всё понятно, спасибо!").await;
    screenshot(&client, "widget-desktop.png").await;
    keys(&client, &format!("{TAB}{ENTER}")).await; // «Отправить»
    wait_text(&client, "[role=status]", "Спасибо за оценку!").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // time on the page
    client.goto("about:blank").await.unwrap(); // pagehide: the timing goes by sendBeacon

    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let rating: FeedbackRow =
        app.storage.client().query("SELECT ?fields FROM feedback FINAL").fetch_one().await.unwrap();
    assert_eq!((rating.score, rating.scale, rating.emotion), (4, 1, 1));
    assert_eq!(rating.comment, "Всё понятно, спасибо!");
    assert_eq!(rating.reported_duration_ms, Some(10 * 60_000));
    assert_eq!(
        (rating.stage.as_str(), rating.touchpoint.as_str(), rating.page_path.as_str()),
        ("application", "epgu", "/apply")
    );
    assert_eq!(rating.locale, "ru");
    assert_eq!(wait_for_rows(&app.storage, "timings", 1).await, 1);
    let timing: TimingRow = app.storage.client().query("SELECT ?fields FROM timings FINAL").fetch_one().await.unwrap();
    assert!(timing.duration_ms >= 300 && timing.duration_ms < 60_000, "{timing:?}");
    assert_eq!((timing.measure, timing.source, timing.page_path.as_str()), (1, 1, "/apply"));
    assert_eq!(timing.session_id, rating.session_id, "one anonymous session");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(crate::support::count_rows(&app.storage, "timings").await, 1, "each stretch of time is sent once");
    // Both carried the case: touches under its keyed hash, the reference nowhere in clear.
    let token = crate::support::api_token(&app.storage, touchpoint::domain::Role::Analyst, &[]).await;
    let key: Value = app
        .http
        .post(format!("{}/api/v1/case-refs/key", app.address))
        .bearer_auth(token)
        .json(&json!({"case_ref": "Л-2026/117"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let touches: Vec<(String, String)> = app
        .storage
        .client()
        .query("SELECT lower(hex(case_key)), toString(kind) FROM case_touches FINAL ORDER BY kind")
        .fetch_all()
        .await
        .unwrap();
    let key = key["case_key"].as_str().unwrap().to_string();
    assert_eq!(touches, [(key.clone(), "rating".to_string()), (key, "timing".to_string())]);
    assert_eq!(rating.case_ref, "");
    client.close().await.unwrap();
}

#[tokio::test]
async fn what_could_not_be_sent_is_sent_on_the_next_page_view() {
    let app = spawn_app().await;
    let pages =
        serve_pages(vec![("/next", page(&app, "ru", "data-mode=\"inline\" data-target=\"#rate\""), None)]).await;
    let (_driver, client) = browser(true).await;
    client.goto(&format!("{pages}/next")).await.unwrap();
    in_widget(&client, "input[type=radio]").await;
    // As the widget leaves it when a send failed: the request, waiting in localStorage.
    let left_over = json!([["/api/v1/timings", {
        "event_id": uuid::Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "duration_ms": 4321, "measure": "dwell", "source": "measured"
    }]]);
    client.execute("localStorage.setItem('tp:queue', arguments[0])", vec![json!(left_over.to_string())]).await.unwrap();

    client.goto(&format!("{pages}/next")).await.unwrap();

    in_widget(&client, "input[type=radio]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let resent = loop {
        let n: u64 = app
            .storage
            .client()
            .query("SELECT count() FROM timings FINAL WHERE duration_ms = 4321")
            .fetch_one()
            .await
            .unwrap();
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(resent, 1);
    let queue: Value = client.execute("return localStorage.getItem('tp:queue')", vec![]).await.unwrap();
    assert_eq!(queue, Value::Null, "sent, so no longer kept");
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_client_rates_with_the_mouse_from_the_floating_button_under_a_strict_csp() {
    let app = spawn_app().await;
    // No inline script or style, nothing from anywhere but the page and the service.
    let csp =
        format!("default-src 'none'; script-src {0}; connect-src {0}; style-src 'self'; img-src 'self'", app.address);
    let pages = serve_pages(vec![("/strict", page(&app, "en", "data-scale=\"nps\""), Some(csp))]).await;
    let (_driver, client) = browser(true).await;

    client.goto(&format!("{pages}/strict")).await.unwrap();
    let open = in_widget(&client, "button.o").await;
    assert_eq!(open.text().await.unwrap(), "Rate us");
    let min_height: String = client
        .execute(
            "return getComputedStyle(document.querySelector('[data-touchpoint-widget]').shadowRoot.querySelector('button')).minHeight",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(min_height, "44px", "the widget's styles apply under the CSP");
    open.click().await.unwrap();
    in_widget(&client, "label:nth-child(11)").await.click().await.unwrap(); // score 9 (after the legend)
    in_widget(&client, "textarea").await.click().await.unwrap();
    keys(&client, "Quick and clear").await;
    in_widget(&client, "button[type=submit]").await.click().await.unwrap();
    wait_text(&client, "[role=status]", "Thank you for your rating!").await;

    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let rating: FeedbackRow =
        app.storage.client().query("SELECT ?fields FROM feedback FINAL").fetch_one().await.unwrap();
    assert_eq!((rating.scale, rating.score, rating.emotion, rating.locale.as_str()), (2, 9, 1, "en"));
    assert_eq!(rating.comment, "Quick and clear");

    // Answered: not asked again in this session.
    client.goto(&format!("{pages}/strict")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown: Value =
        client.execute("return !!document.querySelector('[data-touchpoint-widget]')", vec![]).await.unwrap();
    assert_eq!(shown, json!(false));
    client.close().await.unwrap();
}

#[tokio::test]
async fn on_a_360_px_screen_the_panel_fits_and_passes_axe() {
    let app = spawn_app().await;
    let pages = serve_pages(vec![("/small", page(&app, "ru", "data-ask-time=\"true\""), None)]).await;
    let (_driver, client) = browser(true).await;
    client.set_window_size(360, 740).await.unwrap();

    client.goto(&format!("{pages}/small")).await.unwrap();
    in_widget(&client, "button.o").await.click().await.unwrap();
    in_widget(&client, "input[type=radio]").await;
    in_widget(&client, "select").await; // the time question, loaded on demand
    let fits: Value = client
        .execute(
            "const box = document.querySelector('[data-touchpoint-widget]').shadowRoot.querySelector('section').getBoundingClientRect();\
             return {left: box.left, right: box.right, width: innerWidth, scroll: document.documentElement.scrollWidth};",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&client, "widget-360.png").await;
    let violations = axe(&client).await;

    assert!(
        fits["left"].as_f64().unwrap() >= 0.0 && fits["right"].as_f64().unwrap() <= fits["width"].as_f64().unwrap(),
        "{fits}"
    );
    assert!(fits["scroll"].as_f64().unwrap() <= fits["width"].as_f64().unwrap(), "no sideways scrolling: {fits}");
    assert!(violations.is_empty(), "axe: {violations:#?}");

    // Sent without a score: the error is announced, and passes axe too.
    in_widget(&client, "button[type=submit]").await.click().await.unwrap();
    wait_text(&client, "[role=alert]", "Выберите оценку.").await;
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe with the error shown: {violations:#?}");

    // A score of 1 opened a case: the thank-you step offers its follow link.
    in_widget(&client, "input[type=radio]").await.click().await.unwrap();
    in_widget(&client, "button[type=submit]").await.click().await.unwrap();
    let link = in_widget(&client, "[role=status] a").await;
    let href = link.attr("href").await.unwrap().unwrap();
    assert!(href.starts_with(&format!("{}/follow/", app.address)), "{href}");
    assert_eq!(link.text().await.unwrap(), "Мы разберёмся. Следить за ответом");
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe on the thank-you step: {violations:#?}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_no_js_page_works_with_javascript_off_and_passes_axe() {
    let app = spawn_app().await;
    let (_driver, client) = browser(false).await;

    client
        .goto(&format!("{}/embed/demo/scrap-metal-licensing/information_search?touchpoint=site", app.address))
        .await
        .unwrap();
    client.find(Locator::Css("input[name=score][value='2']")).await.unwrap().click().await.unwrap();
    client.find(Locator::Css("input[name=tags][value=hard_to_find]")).await.unwrap().click().await.unwrap();
    client.find(Locator::Css("textarea")).await.unwrap().send_keys("Не нашёл форму заявления").await.unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("main[role=status]")).await.unwrap();

    assert!(client.source().await.unwrap().contains("Спасибо за оценку"));
    assert_eq!(wait_for_rows(&app.storage, "feedback", 1).await, 1);
    let rating: FeedbackRow =
        app.storage.client().query("SELECT ?fields FROM feedback FINAL").fetch_one().await.unwrap();
    assert_eq!(
        (rating.score, rating.touchpoint.as_str(), rating.comment.as_str()),
        (2, "site", "Не нашёл форму заявления")
    );
    assert_eq!(rating.tags, vec!["hard_to_find"]);
    client.close().await.unwrap();

    // axe needs JavaScript to run: the same page in a browser that has it.
    let (_driver, client) = browser(true).await;
    client.goto(&format!("{}/embed/demo/scrap-metal-licensing/information_search", app.address)).await.unwrap();
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe: {violations:#?}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn an_analyst_logs_in_and_sees_the_journey_map() {
    let app = spawn_app().await;
    let catalog = touchpoint::journeys::Catalog::load(&crate::support::repo().join("dashboards")).unwrap();
    let journey = catalog.journey("scrap-metal-licensing").unwrap();
    touchpoint::seed::seed(
        &app.storage,
        &catalog,
        journey,
        2_000,
        touchpoint::seed::Options { days: 90, progress: false, offers: true },
    )
    .await
    .unwrap();
    touchpoint::accounts::auth::add_user(
        &app.storage,
        "olga",
        "correct horse battery staple",
        &touchpoint::accounts::auth::Grant::analyst(),
    )
    .await
    .unwrap();
    let (_driver, client) = browser(true).await;
    client.set_window_size(1400, 1500).await.unwrap();

    client.goto(&format!("{}/dashboard/scrap-metal-licensing?period=90", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("olga").await.unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("correct horse battery staple")
        .await
        .unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    // The login page has a `main h1` too: wait for what only the journey page has.
    client.wait().for_element(Locator::Css("figure svg")).await.unwrap();
    let heading = client.find(Locator::Css("main h1")).await.unwrap();

    assert!(heading.text().await.unwrap().starts_with("Лицензирование деятельности"));
    assert!(
        client.current_url().await.unwrap().as_str().contains("/dashboard/scrap-metal-licensing?period=90"),
        "back where the login began"
    );
    assert_eq!(client.find_all(Locator::Css("figure svg")).await.unwrap().len(), 5);
    screenshot(&client, "dashboard.png").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_dismissed_widget_is_not_shown_again_in_the_session_and_sends_nothing() {
    let app = spawn_app().await;
    let pages = serve_pages(vec![("/dismiss", page(&app, "ru", ""), None)]).await;
    let (_driver, client) = browser(true).await;

    client.goto(&format!("{pages}/dismiss")).await.unwrap();
    in_widget(&client, "button.o").await.click().await.unwrap();
    in_widget(&client, "input[type=radio]").await;
    keys(&client, "\u{E00C}").await; // Escape closes the panel
    let gone: Value =
        client.execute("return !!document.querySelector('[data-touchpoint-widget]')", vec![]).await.unwrap();
    client.goto(&format!("{pages}/dismiss")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again: Value =
        client.execute("return !!document.querySelector('[data-touchpoint-widget]')", vec![]).await.unwrap();

    assert_eq!(gone, json!(false), "Escape removed it");
    assert_eq!(again, json!(false), "not asked again in this session");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(crate::support::count_rows(&app.storage, "feedback").await, 0, "no rating was chosen, none sent");
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_question_set_loads_only_where_asked_answers_by_keyboard_at_360_px_and_counts_its_offers() {
    let app = spawn_app().await;
    let set_page = page(&app, "ru", "data-mode=\"inline\" data-target=\"#rate\" data-questions=\"true\"").replace(
        "data-stage=\"application\" data-touchpoint=\"epgu\"",
        "data-stage=\"onsite_assessment\" data-touchpoint=\"in_person\"",
    );
    let pages = serve_pages(vec![("/set", set_page, None), ("/plain", page(&app, "ru", ""), None)]).await;
    let (_driver, client) = browser(true).await;
    client.set_window_size(360, 740).await.unwrap();

    client.goto(&format!("{pages}/plain")).await.unwrap();
    in_widget(&client, "button.o").await;
    let loaded = "return performance.getEntriesByType('resource').some(e => e.name.includes('/widget/questions/'))";
    assert_eq!(client.execute(loaded, vec![]).await.unwrap(), json!(false), "no set, no set script");

    client.goto(&format!("{pages}/set")).await.unwrap();
    in_widget(&client, "fieldset:nth-of-type(5) input").await;
    assert_eq!(client.execute(loaded, vec![]).await.unwrap(), json!(true));
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe on the set: {violations:#?}");
    let fits: Value = client
        .execute("return {scroll: document.documentElement.scrollWidth, width: innerWidth};", vec![])
        .await
        .unwrap();
    assert!(fits["scroll"].as_f64().unwrap() <= fits["width"].as_f64().unwrap(), "no sideways scrolling: {fits}");
    screenshot(&client, "widget-set-360.png").await;
    // The first criterion 5, the second 3, the rest skipped; then sent from the keyboard.
    keys(&client, TAB).await;
    keys(&client, &RIGHT.repeat(4)).await;
    keys(&client, TAB).await;
    keys(&client, &RIGHT.repeat(2)).await;
    in_widget(&client, "button[type=submit]").await.click().await.unwrap();
    wait_text(&client, "[role=status]", "Спасибо за оценку!").await;

    assert_eq!(wait_for_rows(&app.storage, "answers", 1).await, 1);
    let row: touchpoint::storage::rows::AnswersRow =
        app.storage.client().query("SELECT ?fields FROM answers FINAL").fetch_one().await.unwrap();
    assert_eq!((row.questions, row.scores), (vec!["time".to_string(), "queue".to_string()], vec![5, 3]));
    // Shown on both pages, opened (begun) on the set's.
    let offers: Vec<(String, String)> = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rows: Vec<(String, String)> = app
                .storage
                .client()
                .query("SELECT toString(kind), question_set FROM offers FINAL ORDER BY kind, question_set")
                .fetch_all()
                .await
                .unwrap();
            if rows.len() >= 3 || Instant::now() > deadline {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let expected = [("shown", ""), ("shown", "vk5"), ("opened", "vk5")].map(|(k, q)| (k.to_string(), q.to_string()));
    assert_eq!(offers, expected);
    client.close().await.unwrap();
}

#[tokio::test]
async fn an_operator_logs_a_call_and_the_clients_answers_from_the_keyboard() {
    let app = spawn_app().await;
    let grant =
        touchpoint::accounts::auth::Grant { role: touchpoint::domain::Role::Handler, units: vec!["licensing".into()] };
    touchpoint::accounts::auth::add_user(&app.storage, "operator", crate::support::PASSWORD, &grant).await.unwrap();
    let (_driver, client) = browser(true).await;
    client.goto(&format!("{}/calls/new?place=scrap-metal-licensing/onsite_assessment", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("operator").await.unwrap();
    client.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(crate::support::PASSWORD).await.unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("input[name=operator]")).await.unwrap();
    let violations = axe(&client).await;
    assert!(violations.is_empty(), "axe: {violations:#?}");

    client.find(Locator::Css("input[name=operator]")).await.unwrap().click().await.unwrap();
    keys(&client, "op-12").await;
    keys(&client, &format!("{TAB}30{TAB}240{TAB}3{TAB}{TAB} ")).await; // wait, talk, transfers; resolved
    keys(&client, &format!("{TAB}{}", RIGHT.repeat(3))).await; // time: 4
    keys(&client, &format!("{TAB}{TAB}{RIGHT}")).await; // queue skipped; staff: 2
    screenshot(&client, "phone-log.png").await;
    client.find(Locator::Css("form.step button[type=submit]")).await.unwrap().send_keys(ENTER).await.unwrap();
    let status = client.wait().for_element(Locator::Css("[role=status]")).await.unwrap();

    assert_eq!(status.text().await.unwrap(), "Звонок записан. Больше двух переадресаций — стандарт нарушен.");
    assert_eq!(wait_for_rows(&app.storage, "calls", 1).await, 1);
    let call: touchpoint::storage::rows::CallRow =
        app.storage.client().query("SELECT ?fields FROM calls FINAL").fetch_one().await.unwrap();
    assert_eq!((call.wait_seconds, call.talk_seconds, call.transfers, call.resolved), (30, 240, 3, 1));
    assert_eq!((call.operator.as_str(), call.stage.as_str()), ("op-12", "onsite_assessment"));
    assert_eq!(wait_for_rows(&app.storage, "answers", 1).await, 1);
    let answers: touchpoint::storage::rows::AnswersRow =
        app.storage.client().query("SELECT ?fields FROM answers FINAL").fetch_one().await.unwrap();
    assert_eq!(answers.event_id, call.event_id, "the answers travel with the call");
    assert_eq!((answers.questions, answers.scores), (vec!["time".to_string(), "staff".to_string()], vec![4, 2]));
    client.close().await.unwrap();
}
