//! The whole loop as a new lab runs it (issue 28, item 24), in Chromium, on
//! the shipped journey files and the example config with nothing set up by
//! the test but the accounts: a low rating in the widget on a page of
//! another origin; the case in the queue of a handler of the stage's unit;
//! acknowledged, answered, closed; the client's follow page shows the
//! answer; the client rates the handling; the journey map counts both.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use touchpoint::accounts::auth::{self, Grant};
use touchpoint::config::Config;
use touchpoint::domain::Role;

use crate::browser::{ENTER, browser, screenshot, serve_pages};
use crate::support::{PASSWORD, repo, scratch, server, spawn_app_with, unique_database, wait_for_rows};

/// The example config as shipped, pointed at the tests' ClickHouse, a free
/// port and a spool folder of its own: what differs between two machines.
fn example() -> Config {
    let mut config = Config::from_file(&repo().join("touchpoint.example.toml")).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.clickhouse.url = Some(server().url.clone());
    config.clickhouse.user = server().user.clone();
    config.clickhouse.password = server().password.clone();
    config.clickhouse.database = unique_database();
    config.spool.dir = scratch("loop-spool");
    config
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| {
        panic!("{css} never appeared: {e}");
    })
}

async fn log_in(client: &Client, address: &str, name: &str, next: &str) {
    client.goto(&format!("{address}/login?next={next}")).await.unwrap();
    wait_for(client, "input[name=name]").await.send_keys(name).await.unwrap();
    client.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    client.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(ENTER).await.unwrap();
}

/// Submits the case page's form of `action` and waits for the page to come
/// back without it (the step is done).
async fn step(client: &Client, action: &str) {
    let form = format!("form.step:has(input[name=action][value={action}])");
    wait_for(client, &format!("{form} button")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while client.find(Locator::Css(&form)).await.is_ok() {
        assert!(Instant::now() < deadline, "{action} was not taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page as it is now, at 360 px: no sideways scrolling; a screenshot.
async fn fits_a_phone(client: &Client, name: &str) {
    client.set_window_size(360, 740).await.unwrap();
    client.refresh().await.unwrap();
    let fits: Value =
        client.execute("return document.documentElement.scrollWidth <= innerWidth", vec![]).await.unwrap();
    screenshot(client, name).await;
    assert_eq!(fits, Value::Bool(true), "{name}: no sideways scrolling at 360 px");
    client.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test]
async fn a_lab_runs_the_shipped_example_from_a_low_rating_to_the_map() {
    let app = spawn_app_with(example()).await;
    let handler = Grant { role: Role::Handler, units: vec!["licensing".into()] };
    auth::add_user(&app.storage, "irina", PASSWORD, &handler).await.unwrap();
    auth::add_user(&app.storage, "olga", PASSWORD, &Grant::analyst()).await.unwrap();
    // The ministry's page, on its own origin, with the widget as the README shows it.
    let page = format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Подача заявления</title></head>\
         <body><main><h1>Подача заявления</h1><div id=\"rate\"></div></main>\
         <script async src=\"{}/widget.js\" data-site=\"demo\" data-journey=\"scrap-metal-licensing\" \
         data-stage=\"application\" data-touchpoint=\"epgu\" data-mode=\"inline\" data-target=\"#rate\"></script>\
         </body></html>",
        app.address
    );
    let site = serve_pages(vec![("/apply", page, None)]).await;
    assert_ne!(site, app.address, "another origin");
    let (_driver, client) = browser(true).await;

    // The client: a 1 with a comment, and the link to follow the answer.
    client.goto(&format!("{site}/apply")).await.unwrap();
    let shadow = "document.querySelector('[data-touchpoint-widget]') && \
                  document.querySelector('[data-touchpoint-widget]').shadowRoot";
    let deadline = Instant::now() + Duration::from_secs(15);
    while client
        .execute(&format!("return !!({shadow} && ({shadow}).querySelector('input[value=\"1\"]'))"), vec![])
        .await
        .unwrap()
        != Value::Bool(true)
    {
        assert!(Instant::now() < deadline, "the widget never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fill = format!(
        "const r = {shadow}; r.querySelector('input[value=\"1\"]').click(); \
         r.querySelector('textarea').value = 'Форма заявления не принимает файлы'; \
         r.querySelector('button[type=submit]').click();"
    );
    client.execute(&fill, vec![]).await.unwrap();
    let link = format!("const r = {shadow}; const a = r.querySelector('[role=status] a'); return a ? a.href : null;");
    let deadline = Instant::now() + Duration::from_secs(15);
    let follow = loop {
        if let Value::String(href) = client.execute(&link, vec![]).await.unwrap() {
            break href;
        }
        assert!(Instant::now() < deadline, "no follow link after the rating");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    screenshot(&client, "loop-widget.png").await;
    assert!(follow.starts_with(&format!("{}/follow/", app.address)), "{follow}");
    wait_for_rows(&app.storage, "cases", 1).await;

    // The handler of the stage's unit finds it in the queue and works it.
    log_in(&client, &app.address, "irina", "/cases").await;
    wait_for(&client, "a[href^='/cases/']").await.click().await.unwrap();
    let comment = wait_for(&client, "main").await.text().await.unwrap();
    assert!(comment.contains("Форма заявления не принимает файлы"), "what the client said: {comment}");
    assert!(comment.contains("ЕПГУ (Госуслуги)") && !comment.contains("csat"), "names, not ids: {comment}");
    step(&client, "acknowledge").await;
    wait_for(&client, "textarea[name=text]")
        .await
        .send_keys("Исправили загрузку файлов, попробуйте ещё раз.")
        .await
        .unwrap();
    step(&client, "answer").await;
    step(&client, "close").await;
    screenshot(&client, "loop-case.png").await;
    fits_a_phone(&client, "loop-case-360.png").await;

    // The client reads the answer and rates how it was handled.
    client.goto(&follow).await.unwrap();
    let body = wait_for(&client, "main").await.text().await.unwrap();
    assert!(body.contains("Исправили загрузку файлов"), "the answer on the follow page: {body}");
    wait_for(&client, "input[name=score][value='5']").await.click().await.unwrap();
    client.find(Locator::Css("form[action$='/rating'] button")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !client.current_url().await.unwrap().as_str().contains("done=rated") {
        assert!(Instant::now() < deadline, "the rating of the answer was not taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The lab's map counts the rating and the handling.
    wait_for_rows(&app.storage, "handling_ratings", 1).await;
    log_in(&client, &app.address, "olga", "/dashboard/scrap-metal-licensing%3Fperiod%3D7").await;
    let map = wait_for(&client, "main").await.text().await.unwrap();
    screenshot(&client, "loop-map.png").await;
    let token = auth::create_token(&app.storage, "lab-script", &Grant::analyst()).await.unwrap();
    let (_, cases) = app.get_as(&token, "/api/v1/journeys/scrap-metal-licensing/cases?period=7").await;
    let application = cases["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "application").unwrap();
    assert_eq!(
        (application["opened"].as_u64(), application["handling_ratings"].as_u64()),
        (Some(1), Some(1)),
        "{cases}"
    );
    assert_eq!(application["handling_satisfaction"], json!(5.0), "{cases}");
    let stats = app.stats(&token, "period=7").await;
    let stage = stats["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap();
    assert_eq!(stage["n"].as_u64(), Some(1), "{stats}");
    assert!(map.contains("Подача заявления") || map.contains("Заполнение заявления"), "the map: {map}");
    // A filter the lab got wrong: a page that says what and how to go back.
    client
        .goto(&format!("{}/dashboard/scrap-metal-licensing?from=2026-06-01&to=2026-01-01", app.address))
        .await
        .unwrap();
    let problem = wait_for(&client, "[role=alert]").await.text().await.unwrap();
    assert!(
        problem.contains("Есть проблема")
            && (problem.contains("«Начало периода»") || problem.contains("«Конец периода»")),
        "{problem}"
    );
    fits_a_phone(&client, "problem-360.png").await;
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "the problem page: {violations:#?}");
    client.close().await.unwrap();
    app.stop().await;
}
