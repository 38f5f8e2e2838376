//! The register as the order keeps it (issue 15): the front door and the
//! published register — page, CSV, framing only by the sites' own pages.

use serde_json::Value;

use crate::browser::{axe, browser};
use crate::support::spawn_app;

#[tokio::test]
async fn the_front_door_says_what_this_is_and_links_what_anyone_may_open() {
    let app = spawn_app().await;

    let ru = app.get("/").await;
    assert_eq!(ru.status(), 200, "a page, not a JSON 404");
    assert!(ru.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = ru.text().await.unwrap();
    assert!(html.contains("<html lang=\"ru\"") && html.contains("Перечень точек взаимодействия"), "{html}");
    for link in [
        "href=\"/register\"",
        "href=\"/login\"",
        "href=\"/api/v1/openapi.json\"",
        "href=\"/api/v1/journeys/scrap-metal-licensing\"",
    ] {
        assert!(html.contains(link), "{link} in {html}");
    }
    let en = app.get("/?lang=en").await.text().await.unwrap();
    assert!(en.contains("<html lang=\"en\"") && en.contains("href=\"/register?lang=en\""), "{en}");
    assert!(en.contains("Licensing") || en.contains("licensing"), "the journey's English name: {en}");
    app.stop().await;
}

#[tokio::test]
async fn the_register_is_published_as_the_orders_table_and_as_csv() {
    let app = spawn_app().await;
    let (_, json) = app.get_json("/api/v1/touchpoints").await;
    let touchpoints = json["touchpoints"].as_array().unwrap();

    let page = app.get("/register").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("frame-ancestors 'self' http://localhost:* http://127.0.0.1:*"),
        "the demo site's origins: {csp}"
    );
    assert!(page.headers().get("x-frame-options").is_none(), "the sites may embed it");
    let html = page.text().await.unwrap();
    for t in touchpoints {
        assert!(html.contains(t["name"]["ru"].as_str().unwrap()), "{t}");
    }
    for process in json["processes"].as_array().unwrap() {
        let name = process["name"]["ru"].as_str().unwrap();
        assert_eq!(html.matches(name).count(), 1, "one row group per process: {name}");
    }
    // Email serves three processes: one line in each.
    assert_eq!(html.matches("<td>Электронная почта Министерства</td>").count(), 3, "{html}");
    assert!(html.contains("получение консультации") && html.contains("цифровая") && html.contains("офлайн"));
    let en = app.get("/register?lang=en").await.text().await.unwrap();
    assert!(en.contains("Ministry website") && en.contains("getting a consultation") && en.contains("offline"));

    let csv = app.get("/register.csv").await;
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), touchpoints.len());
    for (row, t) in rows.iter().zip(touchpoints) {
        assert_eq!(
            (&row[0], &row[1], &row[3]),
            (t["id"].as_str().unwrap(), t["name"]["ru"].as_str().unwrap(), t["kind"].as_str().unwrap())
        );
        let needs: Vec<&str> = t["needs"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(&row[5], needs.join(" "));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_front_door_and_the_register_fit_a_phone_and_pass_axe() {
    let app = spawn_app().await;
    let (_driver, client) = browser(true).await;
    client.set_window_size(360, 740).await.unwrap();
    for path in ["/", "/register", "/register?lang=en"] {
        client.goto(&format!("{}{path}", app.address)).await.unwrap();
        let fits: Value =
            client.execute("return document.documentElement.scrollWidth <= innerWidth", vec![]).await.unwrap();
        assert_eq!(fits, Value::Bool(true), "no sideways scrolling on {path}");
        let violations = axe(&client).await;
        assert!(violations.is_empty(), "{path}: {violations:#?}");
    }
    client.close().await.unwrap();
    app.stop().await;
}
