//! The case queue's pages for handlers: their units' cases by deadline with
//! what the client said (escaped), filters, paging, steps by plain forms
//! (each applied once however often sent), and closing many as spam.

use serde_json::json;
use touchpoint::domain::Role;
use touchpoint::storage::Storage;
use touchpoint::storage::rows::CaseRow;
use uuid::Uuid;

use crate::support::{
    TestApp, ago, api_token, catalog_with_units, no_redirects, spawn_app_with, test_config, wait_for_rows,
};

async fn page(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let response = no_redirects().get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Posts a form; the status and where it sends the browser.
async fn form(app: &TestApp, token: &str, path: &str, fields: &[(&str, String)]) -> (u16, String, String) {
    let response =
        no_redirects().post(format!("{}{path}", app.address)).bearer_auth(token).form(fields).send().await.unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    (response.status().as_u16(), location, response.text().await.unwrap())
}

async fn log_length(storage: &Storage, case: &str) -> u64 {
    storage
        .client()
        .query("SELECT count() FROM case_changes FINAL WHERE case_id = ?")
        .bind(case)
        .fetch_one()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_handler_works_a_case_from_the_queue_page_and_each_form_counts_once() {
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    let app = spawn_app_with(config).await;
    let rating = |stage: &str, touchpoint: &str, comment: &str| {
        json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing", "stage": stage,
               "touchpoint": touchpoint, "scale": "csat", "score": 1, "comment": comment})
    };
    let ours = rating("application", "epgu", "<script>alert(1)</script> форма не работает");
    let theirs = rating("information_search", "site", "чужой");
    for body in [&ours, &theirs] {
        assert_eq!(app.post("/api/v1/feedback", body).await.0, 202);
    }
    let call = json!({"event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 95, "talk_seconds": 200,
        "transfers": 3, "resolved": true, "process": "consulting", "operator": "op-7",
        "journey": "scrap-metal-licensing", "stage": "application"});
    assert_eq!(app.post_staff("/api/v1/calls", &call).await.0, 202);
    wait_for_rows(&app.storage, "cases", 3).await;
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let (id, other) = (ours["event_id"].as_str().unwrap(), theirs["event_id"].as_str().unwrap());

    let (status, queue) = page(&app, &handler, "/cases").await;
    assert_eq!(status, 200);
    assert!(queue.contains(&format!("href=\"/cases/{id}\"")) && !queue.contains(other), "only its unit's cases");
    assert!(
        queue.contains("&#60;script&#62;alert(1)&#60;/script&#62; форма не работает") && !queue.contains("<script>")
    );
    assert!(
        queue.contains("1 из 5")
            && !queue.contains("csat")
            && queue.contains("низкая оценка")
            && queue.contains("<html lang=\"ru\">")
    );
    assert!(page(&app, &handler, "/cases?lang=en").await.1.contains("1 of 5"));
    assert!(queue.contains("переводов: 3, ожидание: 95 с"), "the call's figures");
    assert!(!page(&app, &handler, "/cases?status=closed").await.1.contains(id), "filtered by status");
    assert_eq!(page(&app, &handler, "/cases?unit=general").await.0, 403);
    assert_eq!(page(&app, &handler, &format!("/cases/{other}")).await.0, 403);
    assert_eq!(page(&app, &handler, "/cases?status=lost").await.0, 422);

    let path = format!("/cases/{id}/changes");
    let acknowledge = [("change_id", Uuid::new_v4().to_string()), ("action", "acknowledge".into())];
    for _ in 0..2 {
        let (status, location, _) = form(&app, &handler, &path, &acknowledge).await;
        assert_eq!((status, location.as_str()), (303, format!("/cases/{id}").as_str()), "back to the case");
    }
    assert_eq!(log_length(&app.storage, id).await, 1, "the same form twice is one change");
    let answer = [
        ("change_id", Uuid::new_v4().to_string()),
        ("action", "answer".into()),
        ("text", "Исправили <b>форму</b>".into()),
    ];
    assert_eq!(form(&app, &handler, &path, &answer).await.0, 303);
    let close =
        [("change_id", Uuid::new_v4().to_string()), ("action", "close".into()), ("resolution", "resolved".into())];
    assert_eq!(form(&app, &handler, &path, &close).await.0, 303);
    let late = [("change_id", Uuid::new_v4().to_string()), ("action", "answer".into()), ("text", "ещё".into())];
    let (status, _, refused) = form(&app, &handler, &path, &late).await;
    assert_eq!(status, 409);
    assert!(refused.contains("Случай уже закрыт"), "the page says why");

    let (_, case) = page(&app, &handler, &format!("/cases/{id}")).await;
    assert!(
        case.contains("Исправили &#60;b&#62;форму&#60;/b&#62;") && !case.contains("<b>форму"),
        "answers are escaped"
    );
    assert!(case.contains("закрыт: решено для клиента") && !case.contains("name=\"action\" value=\"answer\""));
    app.stop().await;
}

fn case(unit: &str, answer_by: u32) -> CaseRow {
    let (opened, _) = ago(3 * 24 * 3600);
    CaseRow {
        event_id: Uuid::new_v4(),
        opened_at: opened,
        journey: "scrap-metal-licensing".into(),
        stage: "application".into(),
        touchpoint: "epgu".into(),
        unit: unit.into(),
        reason: "low_score".into(),
        acknowledge_by: opened + 24 * 3600,
        answer_by,
    }
}

#[tokio::test]
async fn the_queue_pages_by_deadline_and_closes_the_chosen_cases_as_spam_once() {
    let app = spawn_app_with(test_config()).await;
    let (now, _) = ago(0);
    let cases: Vec<CaseRow> = (0..120).map(|i| case("licensing", now + 3600 * (i + 1))).collect();
    crate::support::insert_cases(&app.storage, &cases).await;
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;

    let (_, first) = page(&app, &handler, "/cases").await;
    let shown = |html: &str| cases.iter().filter(|c| html.contains(&format!("/cases/{}\"", c.event_id))).count();
    assert_eq!(shown(&first), 50);
    assert!(first.contains(&format!("/cases/{}\"", cases[0].event_id)), "earliest deadline first");
    assert!(first.contains("href=\"/cases?page=1\""));
    let (_, last) = page(&app, &handler, "/cases?page=2").await;
    assert_eq!(shown(&last), 20);
    assert!(last.contains(&format!("/cases/{}\"", cases[119].event_id)) && !last.contains("page=3"));
    let overdue = page(&app, &handler, "/cases?overdue=1").await.1;
    assert_eq!(shown(&overdue), 50, "none acknowledged within a day: all overdue, by pages");
    assert!(overdue.contains("href=\"/cases?overdue=1&#38;page=1\""));

    let batch = Uuid::new_v4().to_string();
    let chosen = [cases[0].event_id, cases[1].event_id];
    let fields: Vec<(&str, String)> =
        [("batch", batch)].into_iter().chain(chosen.iter().map(|id| ("id", id.to_string()))).collect();
    for _ in 0..2 {
        let (status, location, _) = form(&app, &handler, "/cases/spam", &fields).await;
        assert_eq!((status, location.as_str()), (303, "/cases?closed=2"));
    }
    for id in chosen {
        assert_eq!(log_length(&app.storage, &id.to_string()).await, 1, "closed once however often sent");
    }
    // A change stored twice (an INSERT retried after a lost answer) folds the same.
    let again = "INSERT INTO case_changes SELECT * FROM case_changes WHERE case_id = ?";
    app.storage.client().query(again).bind(chosen[0].to_string()).execute().await.unwrap();
    let closed = page(&app, &handler, "/cases?status=closed").await.1;
    assert_eq!(shown(&closed), 2);
    assert!(!page(&app, &handler, "/cases").await.1.contains(&chosen[0].to_string()), "the open ones by default");
    assert_eq!(shown(&page(&app, &handler, "/cases?status=all&page=2").await.1), 20);
    let (status, _, _) = form(&app, &handler, "/cases/spam", &[("batch", Uuid::new_v4().to_string())]).await;
    assert_eq!(status, 422, "nothing chosen");

    // All or nothing: with another unit's case among the chosen, none closes.
    let theirs = case("general", now + 3600);
    crate::support::insert_cases(&app.storage, [&theirs]).await;
    let mixed = [cases[2].event_id, theirs.event_id];
    let fields: Vec<(&str, String)> = [("batch", Uuid::new_v4().to_string())]
        .into_iter()
        .chain(mixed.iter().map(|id| ("id", id.to_string())))
        .collect();
    let (status, _, _) = form(&app, &handler, "/cases/spam", &fields).await;
    assert_eq!(status, 403);
    assert_eq!(log_length(&app.storage, &cases[2].event_id.to_string()).await, 0, "ours stays open too");
    // A bound, and one INSERT for many.
    let many: Vec<(&str, String)> = [("batch", Uuid::new_v4().to_string())]
        .into_iter()
        .chain(cases[10..111].iter().map(|c| ("id", c.event_id.to_string())))
        .collect();
    assert_eq!(form(&app, &handler, "/cases/spam", &many).await.0, 422, "101 cases");
    let (status, location, _) = form(&app, &handler, "/cases/spam", &many[..101]).await;
    assert_eq!((status, location.as_str()), (303, "/cases?closed=100"));
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_is_refused_on_a_signed_in_route() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(test_config()).await;
    let analyst = crate::support::analyst_token(&app.storage).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /recommendations HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {analyst}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\nnote={}\r\n", 5 + 16_000, "x".repeat(16_000));
    let mut sent = 0;
    // Up to 1.9 MB, unless the service answers (and stops reading) first.
    while sent < 1_900_000 && stream.write_all(chunk.as_bytes()).await.is_ok() {
        sent += chunk.len();
        if sent > 200_000 {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_handler_works_a_case_by_keyboard_and_both_pages_pass_axe() {
    use fantoccini::Locator;
    let app = spawn_app_with(test_config()).await;
    let opened = case("licensing", ago(0).0 + 5 * 24 * 3600);
    crate::support::insert_cases(&app.storage, [&opened]).await;
    let grant = touchpoint::accounts::auth::Grant { role: Role::Handler, units: vec!["licensing".into()] };
    touchpoint::accounts::auth::add_user(&app.storage, "irina", "correct horse battery staple", &grant).await.unwrap();
    let (_driver, client) = crate::browser::browser(true).await;

    client.goto(&format!("{}/cases", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("irina").await.unwrap();
    let password = client.find(Locator::Css("input[name=password]")).await.unwrap();
    password.send_keys("correct horse battery staple").await.unwrap();
    password.send_keys(crate::browser::ENTER).await.unwrap();
    client.wait().for_element(Locator::Css("table.queue")).await.unwrap();
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "axe on the queue: {violations:#?}");
    crate::browser::screenshot(&client, "case-queue.png").await;

    // Tab to the case's link, open it, tab to "acknowledge" and press Enter: no mouse.
    let link = format!("/cases/{}", opened.event_id);
    tab_to(&client, &format!("a[href='{link}']")).await;
    crate::browser::keys(&client, crate::browser::ENTER).await;
    client.wait().for_element(Locator::Css("dl.facts")).await.unwrap();
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "axe on the case: {violations:#?}");
    tab_to(&client, "form.step input[value=acknowledge] ~ button").await;
    crate::browser::keys(&client, crate::browser::ENTER).await;
    client.wait().for_element(Locator::Css("main table.queue")).await.unwrap();
    let log = client.find(Locator::Css("main table.queue tbody")).await.unwrap().text().await.unwrap();
    assert!(log.contains("irina") && log.contains("получение подтверждено"), "{log}");
    assert_eq!(log_length(&app.storage, &opened.event_id.to_string()).await, 1);
    client.close().await.unwrap();
    app.stop().await;
}

/// Presses Tab until the element `css` has the focus (at most 40 times).
async fn tab_to(client: &fantoccini::Client, css: &str) {
    let target = client.find(fantoccini::Locator::Css(css)).await.unwrap();
    for _ in 0..40 {
        crate::browser::keys(client, crate::browser::TAB).await;
        let focused = client.active_element().await.unwrap();
        if focused.element_id() == target.element_id() {
            return;
        }
    }
    panic!("Tab never reached {css}");
}
