//! The register as the order keeps it (issue 15): the front door and the
//! published register — page, CSV, framing only by the sites' own pages.

use serde_json::{Value, json};
use touchpoint::domain::Role;

use crate::browser::{axe, browser};
use crate::support::{TestApp, api_token, spawn_app};

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

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    app.post_as(token, path, body).await
}

fn exclude(touchpoint: &str) -> Value {
    json!({"change": {"kind": "exclude_touchpoint", "touchpoint": touchpoint}, "reason": "ВКС больше не используется"})
}

async fn versions(app: &TestApp) -> Vec<u64> {
    let (_, body) = app.get_json("/api/v1/register/versions").await;
    body["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn an_editor_drafts_an_approver_includes_and_anyone_reads_every_version() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    assert_eq!(versions(&app).await, [1], "the files are the first version");

    let (status, drafted) = post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await;
    assert_eq!(status, 201, "{drafted}");
    assert_eq!(drafted["clause"], "5.3.4");
    let id = drafted["change_id"].as_str().unwrap().to_string();
    assert_eq!(versions(&app).await, [1], "a draft is not a version");

    let (status, approved) = post(&app, &approver, &format!("/api/v1/register/changes/{id}/approve"), &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["version"], 2);
    let (status, again) = post(&app, &approver, &format!("/api/v1/register/changes/{id}/approve"), &json!({})).await;
    assert_eq!((status, again["error"]["field"].as_str()), (409, Some("id")), "{again}");

    assert_eq!(versions(&app).await, [2, 1]);
    let (_, list) = app.get_json("/api/v1/register/versions").await;
    let newest = &list["versions"][0];
    // 10 working days are at least two calendar weeks.
    let (at, by) = (newest["approved_at"].as_u64().unwrap(), newest["publish_by"].as_u64().unwrap());
    assert!(by >= at + 13 * 86_400 && by <= at + 30 * 86_400, "{newest}");
    assert_eq!(newest["published_at"], 0);
    let vks = |docs: &Value| {
        docs["register"]["touchpoints"].as_array().unwrap().iter().find(|t| t["id"] == "vks").unwrap().clone()
    };
    let (_, second) = app.get_json("/api/v1/register/versions/2").await;
    assert!(vks(&second)["excluded_since"].as_str().unwrap().starts_with("20"), "{}", vks(&second));
    let (_, first) = app.get_json("/api/v1/register/versions/1").await;
    assert_eq!(vks(&first).get("excluded_since"), None, "history stays as it was");
    assert_eq!(app.get("/api/v1/register/versions/9").await.status(), 404);

    // Published with its history: what changed, and every version readable.
    let (_, changed) = app.get_json("/api/v1/register/diff?from=1&to=2").await;
    assert_eq!(
        changed["differences"],
        json!([{"what": "touchpoint", "id": "vks", "how": "changed", "fields": ["excluded_since"],
                "changes": [{"field": "excluded_since", "old": null, "new": vks(&second)["excluded_since"]}]}])
    );
    let (status, body) = app.get_json("/api/v1/register/diff?from=1&to=9").await;
    assert_eq!((status.as_u16(), body["error"]["field"].as_str()), (404, Some("to")), "{body}");
    let now = app.get("/register").await.text().await.unwrap();
    assert!(now.contains("Версия 2, утверждена 20"), "{now}");
    assert!(now.contains("Изменения по сравнению с версией 1") && now.contains("«vks» — изменено: excluded_since"));
    assert!(now.contains("href=\"/register?version=1\""), "{now}");
    let then = app.get("/register?version=1").await.text().await.unwrap();
    assert!(then.contains("Версия 1") && !then.contains("Исключены из перечня"), "{then}");
    assert!(then.contains("<td>Видеоконференцсвязь (ВКС)</td>"), "vks in the table as it was: {then}");
    assert_eq!(app.get("/register?version=9").await.status(), 404);
    let back = app.get("/register?version=1&from=2").await.text().await.unwrap();
    assert!(back.contains("Изменения по сравнению с версией 2") && back.contains("«vks» — изменено: excluded_since"));
    assert_eq!(app.get("/register?from=9").await.status(), 404);
    let csv_of = |query: &'static str| {
        let request = app.http.get(format!("{}/register.csv{query}", app.address));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let vks_row = |csv: String| csv.lines().find(|l| l.starts_with("\"vks\"")).unwrap().to_string();
    assert!(vks_row(csv_of("").await).ends_with(&format!("\"{}\"", vks(&second)["excluded_since"].as_str().unwrap())));
    assert!(vks_row(csv_of("?version=1").await).ends_with(",\"\""), "not excluded in version 1");

    let changes = app.http.get(format!("{}/api/v1/register/changes", app.address)).bearer_auth(&editor);
    let changes: Value = changes.send().await.unwrap().json().await.unwrap();
    let change = &changes["changes"][0];
    assert_eq!((change["state"].as_str(), change["version"].as_u64()), (Some("approved"), Some(2)), "{change}");
    assert!(change["author"].as_str().unwrap().starts_with("t-") && change["unit"] == "licensing", "{change}");
    app.stop().await;
}

#[tokio::test]
async fn a_bad_change_is_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;

    let (status, used) = post(&app, &editor, "/api/v1/register/changes", &exclude("epgu")).await;
    assert_eq!((status, used["error"]["field"].as_str()), (422, Some("touchpoint")), "{used}");
    assert!(used["error"]["message"].as_str().unwrap().contains("still uses \"epgu\""), "{used}");
    let no_reason = json!({"change": {"kind": "exclude_touchpoint", "touchpoint": "vks"}, "reason": " "});
    let (status, body) = post(&app, &editor, "/api/v1/register/changes", &no_reason).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");
    let unknown = json!({"change": {"kind": "rename_touchpoint", "touchpoint": "vks"}, "reason": "x"});
    assert_eq!(post(&app, &editor, "/api/v1/register/changes", &unknown).await.0, 422);

    let changes: u64 = app.storage.client().query("SELECT count() FROM register_changes").fetch_one().await.unwrap();
    assert_eq!(changes, 0);
    assert_eq!(versions(&app).await, [1]);

    // Turned down: only with the approver's words, and for good.
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let id = post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"].clone();
    let id = id.as_str().unwrap();
    let reject = format!("/api/v1/register/changes/{id}/reject");
    let (status, body) = post(&app, &approver, &reject, &json!({"decision": ""})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("decision")), "{body}");
    assert_eq!(post(&app, &approver, &reject, &json!({"decision": "ВКС ещё используется"})).await.0, 204);
    let (status, body) = post(&app, &approver, &format!("/api/v1/register/changes/{id}/approve"), &json!({})).await;
    assert_eq!(status, 409, "{body}");
    let list = app.http.get(format!("{}/api/v1/register/changes", app.address)).bearer_auth(&editor);
    let list: Value = list.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (list["changes"][0]["state"].as_str(), list["changes"][0]["decision"].as_str()),
        (Some("rejected"), Some("ВКС ещё используется"))
    );
    assert_eq!(versions(&app).await, [1]);
    app.stop().await;
}

/// Two drafts that each apply to version 1 but not one after the other, and
/// one draft approved twice, all at once: one approval wins each time.
#[tokio::test]
async fn two_approvers_at_once_cannot_both_win() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing", "general"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let (_, journey) = app.get_json("/api/v1/journeys/scrap-metal-licensing").await;
    let (_, first) = app.get_json("/api/v1/register/versions/1").await;
    let mut stage = first["journeys"][0]["stages"][0].clone();
    stage["touchpoints"].as_array_mut().unwrap().push(json!("vks"));
    assert_eq!(journey["stages"][0]["id"], stage["id"]);
    let use_vks = json!({"change": {"kind": "edit_stage", "journey": "scrap-metal-licensing", "stage": stage},
        "reason": "консультации по ВКС"});
    let a = post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"].clone();
    let b = post(&app, &editor, "/api/v1/register/changes", &use_vks).await.1["change_id"].clone();
    let approve = |id: &Value| format!("/api/v1/register/changes/{}/approve", id.as_str().unwrap());
    let none = json!({});
    let both = |x: String, y: String| {
        let (app, approver, none) = (&app, &approver, &none);
        async move { tokio::join!(post(app, approver, &x, none), post(app, approver, &y, none)) }
    };

    let (one, two) = both(approve(&a), approve(&b)).await;

    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(statuses, [200, 422], "{one:?} {two:?}");
    assert_eq!(versions(&app).await, [2, 1]);
    let winner = if one.0 == 200 { &a } else { &b };
    let (same, again) = both(approve(winner), approve(winner)).await;
    assert_eq!((same.0, again.0), (409, 409));
    let c = post(&app, &editor, "/api/v1/register/changes", &exclude("social")).await.1["change_id"].clone();
    let (x, y) = both(approve(&c), approve(&c)).await;
    let mut statuses = [x.0, y.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{x:?} {y:?}");
    assert_eq!(versions(&app).await, [3, 2, 1]);
    app.stop().await;
}

#[tokio::test]
async fn drafting_and_deciding_belong_to_their_roles() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let id = post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"]
        .as_str()
        .unwrap()
        .to_string();
    for role in Role::ALL {
        let units: &[&str] = if role.has_units() { &["licensing"] } else { &[] };
        let token = api_token(&app.storage, role, units).await;
        let drafted = post(&app, &token, "/api/v1/register/changes", &exclude("social")).await.0;
        assert_eq!(drafted, if role == Role::Editor { 201 } else { 403 }, "{role} drafts");
        let rejected =
            post(&app, &token, &format!("/api/v1/register/changes/{id}/reject"), &json!({"decision": "нет"})).await.0;
        // The first approver to try turns it down; an approver is never refused for the role.
        assert!(
            if role == Role::Approver { rejected == 204 || rejected == 409 } else { rejected == 403 },
            "{role}: {rejected}"
        );
        let read =
            app.http.get(format!("{}/api/v1/register/changes", app.address)).bearer_auth(&token).send().await.unwrap();
        let expected = if matches!(role, Role::Editor | Role::Approver) { 200 } else { 403 };
        assert_eq!(read.status().as_u16(), expected, "{role} reads the drafts");
    }
    assert_eq!(versions(&app).await, [1], "turned down, not included");
    app.stop().await;
}

/// An approved version is in force for the next request — capture, the
/// published register — and after a restart on the same database.
#[tokio::test]
async fn an_approved_change_takes_effect_at_once_and_stays_after_a_restart() {
    let config = crate::support::test_config();
    let app = crate::support::spawn_app_with(config.clone()).await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let at_phone = || {
        json!({"event_id": uuid::Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
            "stage": "application", "touchpoint": "phone", "scale": "csat", "score": 4})
    };
    assert_eq!(
        app.post("/api/v1/feedback", &at_phone()).await.0,
        422,
        "the phone is not a touchpoint of the application"
    );
    let (_, first) = app.get_json("/api/v1/register/versions/1").await;
    let mut stage = first["journeys"][0]["stages"][2].clone();
    assert_eq!(stage["id"], "application");
    stage["touchpoints"].as_array_mut().unwrap().push(json!("phone"));
    let edit = json!({"change": {"kind": "edit_stage", "journey": "scrap-metal-licensing", "stage": stage},
        "reason": "консультации по заявлению по телефону"});
    for body in [edit, exclude("vks")] {
        let id =
            post(&app, &editor, "/api/v1/register/changes", &body).await.1["change_id"].as_str().unwrap().to_string();
        assert_eq!(post(&app, &approver, &format!("/api/v1/register/changes/{id}/approve"), &json!({})).await.0, 200);
    }

    assert_eq!(app.post("/api/v1/feedback", &at_phone()).await.0, 202, "no restart needed");
    let (_, touchpoints) = app.get_json("/api/v1/touchpoints").await;
    let vks = touchpoints["touchpoints"].as_array().unwrap().iter().find(|t| t["id"] == "vks").unwrap().clone();
    assert!(vks["excluded_since"].is_string(), "{vks}");
    let page = app.get("/register").await.text().await.unwrap();
    let excluded = &page[page.find("Исключены из перечня").expect("an excluded section")..];
    assert!(excluded.contains("Видеоконференцсвязь (ВКС) — с 20"), "{excluded}");
    app.stop().await;

    let again = crate::support::spawn_app_with(config).await;
    assert_eq!(versions(&again).await, [3, 2, 1]);
    assert_eq!(again.post("/api/v1/feedback", &at_phone()).await.0, 202, "the version in force, not the files");
    again.stop().await;
}

/// Order 5.4: each version's deadline, its publication recorded by an
/// approver, and the admin page listing what is still to publish.
#[tokio::test]
async fn publication_within_ten_working_days_is_tracked_and_the_admin_sees_what_waits() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let id = post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"].clone();
    let approve = format!("/api/v1/register/changes/{}/approve", id.as_str().unwrap());
    assert_eq!(post(&app, &approver, &approve, &json!({})).await.0, 200);
    let admin = api_token(&app.storage, Role::Admin, &[]).await;
    let page = |app: &TestApp| {
        let request = app.http.get(format!("{}/admin", app.address)).bearer_auth(&admin);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let waiting = page(&app).await;
    assert!(waiting.contains("Версии перечня к размещению") && waiting.contains("<tr><td>2</td>"), "{waiting}");

    let published = "/api/v1/register/versions/2/published";
    let site = json!({"url": "https://minprom.example.ru/perechen"});
    assert_eq!(post(&app, &editor, published, &site).await.0, 403, "an approver records it");
    let (status, body) = post(&app, &approver, published, &json!({"url": "ftp://x"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("url")), "{body}");
    let (_, list) = app.get_json("/api/v1/register/versions").await;
    let before = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(list["versions"][0]["approved_at"].as_u64().unwrap() - 60),
    );
    let early = json!({"url": "https://minprom.example.ru/perechen", "published_at": before.to_string()});
    let (status, body) = post(&app, &approver, published, &early).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("published_at")), "{body}");
    assert_eq!(post(&app, &approver, "/api/v1/register/versions/7/published", &site).await.0, 404);
    assert_eq!(list["versions"][0]["publication"], "due");

    assert_eq!(post(&app, &approver, published, &site).await.0, 204);

    let (_, list) = app.get_json("/api/v1/register/versions").await;
    let second = &list["versions"][0];
    assert_eq!((second["version"].as_u64(), second["publication"].as_str()), (Some(2), Some("met")), "{second}");
    assert!(second["published_at"].as_u64().unwrap() >= second["approved_at"].as_u64().unwrap());
    let waiting = page(&app).await;
    assert!(
        !waiting.contains("<tr><td>2</td>") && waiting.contains("<tr><td>1</td>"),
        "version 1 still waits: {waiting}"
    );
    app.stop().await;
}

/// The same work through the pages: an editor's forms, an approver's buttons.
#[tokio::test]
async fn editors_and_approvers_work_through_the_pages() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let http = crate::support::no_redirects();
    let get = |token: &str| http.get(format!("{}/register/changes", app.address)).bearer_auth(token.to_string()).send();
    let form = |token: &str, path: &str, fields: &[(&str, &str)]| {
        let request = http.post(format!("{}{path}", app.address)).bearer_auth(token.to_string());
        request
            .body(serde_html_form::to_string(fields).unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
    };

    let page = get(&editor).await.unwrap().text().await.unwrap();
    assert!(page.contains("Исключить точку взаимодействия") && page.contains("name=\"needs\""), "{page}");
    assert!(!get(&approver).await.unwrap().text().await.unwrap().contains("Сохранить черновик"), "no drafting forms");
    assert_eq!(get(&analyst).await.unwrap().status(), 403);

    let duplicate = [
        ("kind", "add_touchpoint"),
        ("id", "site"),
        ("name_ru", "Сайт"),
        ("channel", "site"),
        ("to", "digital"),
        ("needs", "get_information"),
        ("reason", "ещё один сайт"),
    ];
    let refused = form(&editor, "/register/changes", &duplicate).await.unwrap();
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("touchpoint.id: ") && refused.contains("is already in the register"), "{refused}");
    let exclude = [("kind", "exclude_touchpoint"), ("touchpoint", "vks"), ("reason", "ВКС не используется")];
    let drafted = form(&editor, "/register/changes", &exclude).await.unwrap();
    assert_eq!(
        (drafted.status().as_u16(), drafted.headers()["location"].to_str().unwrap()),
        (303, "/register/changes?done=drafted")
    );
    let stage = [
        ("kind", "edit_stage"),
        ("stage", "scrap-metal-licensing/application"),
        ("touchpoints", "epgu"),
        ("touchpoints", "phone"),
        ("legal_deadline_days", "12"),
        ("unit", "licensing"),
        ("reason", "консультации по телефону"),
    ];
    assert_eq!(form(&editor, "/register/changes", &stage).await.unwrap().status(), 303);
    assert_eq!(
        form(&editor, "/register/changes/00000000-0000-4000-8000-000000000000/approve", &[]).await.unwrap().status(),
        403
    );

    let (_, list) = {
        let r =
            app.http.get(format!("{}/api/v1/register/changes", app.address)).bearer_auth(&editor).send().await.unwrap();
        (200, r.json::<Value>().await.unwrap())
    };
    let ids: Vec<String> =
        list["changes"].as_array().unwrap().iter().map(|c| c["change_id"].as_str().unwrap().to_string()).collect();
    for id in &ids {
        let approved = form(&approver, &format!("/register/changes/{id}/approve"), &[]).await.unwrap();
        assert_eq!(approved.status(), 303, "{}", approved.text().await.unwrap());
    }
    assert_eq!(versions(&app).await, [3, 2, 1]);
    let (_, third) = app.get_json("/api/v1/register/versions/3").await;
    let application = third["journeys"][0]["stages"][2].clone();
    assert_eq!(
        (application["touchpoints"].clone(), application["legal_deadline_days"].clone()),
        (json!(["epgu", "phone"]), json!(12))
    );
    let again = form(&approver, &format!("/register/changes/{}/approve", ids[0]), &[]).await.unwrap();
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("already in version"));
    let page = get(&approver).await.unwrap().text().await.unwrap();
    assert!(page.contains("включено (версия 2)") && page.contains("включено (версия 3)"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn the_changes_page_passes_axe_for_an_editor_and_an_approver() {
    use fantoccini::Locator;
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    post(&app, &editor, "/api/v1/register/changes", &exclude("vks")).await;
    let (_driver, client) = browser(true).await;
    for (name, role, units) in [
        ("editor", Role::Editor, vec!["licensing".to_string(), "general".to_string()]),
        ("approver", Role::Approver, vec![]),
    ] {
        let grant = touchpoint::accounts::auth::Grant { role, units };
        touchpoint::accounts::auth::add_user(&app.storage, name, crate::support::PASSWORD, &grant).await.unwrap();
        client.goto(&format!("{}/login", app.address)).await.unwrap();
        client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys(name).await.unwrap();
        let password = client.find(Locator::Css("input[name=password]")).await.unwrap();
        password.send_keys(crate::support::PASSWORD).await.unwrap();
        password.send_keys(crate::browser::ENTER).await.unwrap();
        client.wait().for_element(Locator::Css("table.queue")).await.unwrap();
        assert_eq!(client.current_url().await.unwrap().path(), "/register/changes", "{name} lands on the changes");
        let violations = axe(&client).await;
        assert!(violations.is_empty(), "{name}: {violations:#?}");
        client.find(Locator::Css("header form button")).await.unwrap().click().await.unwrap(); // log out
        client.wait().for_element(Locator::Css("input[name=name]")).await.unwrap();
    }
    client.close().await.unwrap();
    app.stop().await;
}

/// A past period's dashboard shows the stages as they were then; a
/// touchpoint excluded since keeps its name, marked.
#[tokio::test]
async fn a_past_period_shows_the_journey_as_it_was_and_marks_what_was_excluded_since() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing", "general"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let (_, first) = app.get_json("/api/v1/register/versions/1").await;
    let mut changes = Vec::new();
    for i in [0, 1] {
        let mut stage = first["journeys"][0]["stages"][i].clone();
        stage["touchpoints"].as_array_mut().unwrap().retain(|t| t != "info_materials");
        changes.push(json!({"change": {"kind": "edit_stage", "journey": "scrap-metal-licensing", "stage": stage},
            "reason": "материалы только на сайте"}));
    }
    changes.push(
        json!({"change": {"kind": "exclude_touchpoint", "touchpoint": "info_materials"}, "reason": "не выпускаются"}),
    );
    for change in &changes {
        let (status, drafted) = post(&app, &editor, "/api/v1/register/changes", change).await;
        assert_eq!(status, 201, "{drafted}");
        let approve = format!("/api/v1/register/changes/{}/approve", drafted["change_id"].as_str().unwrap());
        assert_eq!(post(&app, &approver, &approve, &json!({})).await.0, 200);
    }
    let page = |query: String| {
        let request =
            app.http.get(format!("{}/dashboard/scrap-metal-licensing{query}", app.address)).bearer_auth(&analyst);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let day = |days_ago: u64| {
        let at = std::time::SystemTime::now() - std::time::Duration::from_secs(days_ago * 86_400);
        humantime::format_rfc3339(at).to_string()[..10].to_string()
    };

    let now = page(String::new()).await;
    let then = page(format!("?from={}&to={}", day(10), day(3))).await;

    assert!(!now.contains("Информационные материалы"), "gone from today's map");
    assert!(then.contains("Информационные материалы (исключена с 20"), "{then}");
    app.stop().await;
}

/// Two instances on one database: a version approved on one is in force on
/// the other within `register.refresh_interval`, no restart.
#[tokio::test]
async fn another_instance_puts_an_approved_version_in_force_without_a_restart() {
    let mut config = crate::support::test_config();
    config.register.refresh_interval = std::time::Duration::from_millis(200);
    let one = crate::support::spawn_app_with(config.clone()).await;
    let mut other_config = config.clone();
    other_config.spool.dir = crate::support::scratch("spool-other");
    let other = crate::support::spawn_app_with(other_config).await;
    let editor = api_token(&one.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&one.storage, Role::Approver, &[]).await;
    let id = post(&one, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"].clone();
    let approve = format!("/api/v1/register/changes/{}/approve", id.as_str().unwrap());
    assert_eq!(post(&one, &approver, &approve, &json!({})).await.0, 200);

    let excluded = |app: &TestApp| {
        let request = app.http.get(format!("{}/api/v1/touchpoints", app.address));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["touchpoints"].as_array().unwrap().iter().any(|t| t["id"] == "vks" && t["excluded_since"].is_string())
        }
    };
    assert!(excluded(&one).await, "at once where it was approved");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !excluded(&other).await {
        assert!(std::time::Instant::now() < deadline, "the other instance never put version 2 in force");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    one.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn the_public_register_csv_neutralises_what_a_spreadsheet_would_run() {
    let dir = crate::support::scratch("formula-register");
    std::fs::create_dir_all(dir.join("journeys")).unwrap();
    let shipped = crate::support::repo().join("dashboards");
    for file in ["calendar.toml", "journeys/scrap-metal-licensing.toml"] {
        std::fs::copy(shipped.join(file), dir.join(file)).unwrap();
    }
    let register = std::fs::read_to_string(shipped.join("register.toml")).unwrap().replacen(
        "name.en = \"Ministry website\"",
        "name.en = \"=HYPERLINK(\\\"http://evil.example\\\",\\\"site\\\")\"",
        1,
    );
    std::fs::write(dir.join("register.toml"), register).unwrap();
    let mut config = crate::support::test_config();
    config.dashboards_dir = dir;
    let app = crate::support::spawn_app_with(config).await;
    let text = app.get("/register.csv").await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let site = reader.records().map(Result::unwrap).find(|r| &r[0] == "site").unwrap();
    assert_eq!(&site[2], "'=HYPERLINK(\"http://evil.example\",\"site\")", "{text}");
    assert!(text.lines().all(|l| l.starts_with('"')), "every cell quoted: {text}");
    app.stop().await;
}

#[tokio::test]
async fn an_editor_drafts_stage_edits_only_for_their_units() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let (_, first) = app.get_json("/api/v1/register/versions/1").await;
    let stages = first["journeys"][0]["stages"].as_array().unwrap().clone();
    let stage = |id: &str| stages.iter().find(|s| s["id"] == id).unwrap().clone();
    let edit = |stage: Value| json!({"change": {"kind": "edit_stage", "journey": "scrap-metal-licensing", "stage": stage}, "reason": "r"});
    // Its own stage: yes.
    let mut ours = stage("application");
    ours["legal_deadline_days"] = json!(20);
    assert_eq!(post(&app, &editor, "/api/v1/register/changes", &edit(ours.clone())).await.0, 201);
    // Another unit's stage: no, naming the stage.
    let (status, body) = post(&app, &editor, "/api/v1/register/changes", &edit(stage("information_search"))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (403, Some("stage.id")), "{body}");
    // Its own stage given to another unit: no.
    ours["unit"] = json!("general");
    let (status, body) = post(&app, &editor, "/api/v1/register/changes", &edit(ours)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (403, Some("stage.unit")), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn an_edit_built_from_the_journey_api_keeps_what_it_did_not_change_and_the_approver_sees_old_and_new() {
    let app = spawn_app().await;
    let editor = api_token(&app.storage, Role::Editor, &["licensing", "general"]).await;
    let approver = api_token(&app.storage, Role::Approver, &[]).await;
    let (_, journey) = app.get_json("/api/v1/journeys/scrap-metal-licensing").await;
    let mut stage = journey["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap().clone();
    assert_eq!((stage["unit"].as_str(), stage["legal_deadline_days"].as_u64()), (Some("licensing"), Some(15)));
    assert_eq!(journey["cases"]["unit"], "general", "the unit of stages that name none");
    // The edit a script builds from what the API shows: touchpoints by id, the
    // map's position dropped, one field changed, everything else as it was.
    let ids: Vec<Value> = stage["touchpoints"].as_array().unwrap().iter().map(|t| t["id"].clone()).collect();
    stage["touchpoints"] = Value::Array(ids);
    stage.as_object_mut().unwrap().remove("number");
    stage["legal_deadline_days"] = json!(20);
    let edit = json!({"change": {"kind": "edit_stage", "journey": "scrap-metal-licensing", "stage": stage},
        "reason": "срок по новому регламенту"});
    let (status, drafted) = post(&app, &editor, "/api/v1/register/changes", &edit).await;
    assert_eq!(status, 201, "{drafted}");

    let page = app.text_as(&approver, "/register/changes").await;
    assert!(page.contains("legal_deadline_days: 15 → 20"), "old → new: {page}");
    assert!(!page.contains("unit:") && !page.contains("questions:"), "nothing else changes: {page}");

    let id = drafted["change_id"].as_str().unwrap();
    let (status, _) = post(&app, &approver, &format!("/api/v1/register/changes/{id}/approve"), &json!({})).await;
    assert_eq!(status, 200);
    let (_, now) = app.get_json("/api/v1/journeys/scrap-metal-licensing").await;
    let after = now["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap();
    assert_eq!((after["unit"].as_str(), after["legal_deadline_days"].as_u64()), (Some("licensing"), Some(20)));
    let before = journey["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap();
    assert_eq!(after["questions"], before["questions"]);
    app.stop().await;
}

#[tokio::test]
async fn approvals_and_recommendation_edits_racing_through_two_instances_keep_one_version() {
    let config = crate::support::test_config();
    let one = crate::support::spawn_app_with(config.clone()).await;
    let mut other_config = config.clone();
    other_config.spool.dir = crate::support::scratch("spool-other");
    let other = crate::support::spawn_app_with(other_config).await;
    let editor = api_token(&one.storage, Role::Editor, &["licensing"]).await;
    let approver = api_token(&one.storage, Role::Approver, &[]).await;
    let analyst = api_token(&one.storage, Role::Analyst, &[]).await;

    // Two drafts that each apply to version 1, approved at once on two instances.
    let a = post(&one, &editor, "/api/v1/register/changes", &exclude("vks")).await.1["change_id"].clone();
    let b = post(&one, &editor, "/api/v1/register/changes", &exclude("social")).await.1["change_id"].clone();
    let approve = |id: &Value| format!("/api/v1/register/changes/{}/approve", id.as_str().unwrap());
    let none = json!({});
    let (path_a, path_b) = (approve(&a), approve(&b));
    let (first, second) = tokio::join!(post(&one, &approver, &path_a, &none), post(&other, &approver, &path_b, &none));
    let rows: u64 = one
        .storage
        .client()
        .query("SELECT count() FROM register_versions WHERE version = 2")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows, 1, "one row for version 2, not two to collapse: {first:?} {second:?}");
    // At once, one of them is told to approve again; one that came later
    // than the other's write went on top of it by itself.
    let mut statuses = [first.0, second.0];
    statuses.sort();
    match statuses {
        [200, 409] => {
            let loser = if first.0 == 409 { &a } else { &b };
            assert_eq!(post(&one, &approver, &approve(loser), &none).await.0, 200, "approved again: version 3");
        }
        [200, 200] => {}
        other => panic!("{other:?}: {first:?} {second:?}"),
    }
    assert_eq!(versions(&one).await, [3, 2, 1]);

    // Two edits of one recommendation from the same version, at once.
    let (_, list) = one.get_as(&analyst, "/api/v1/journeys/scrap-metal-licensing/recommendations").await;
    let seeded = &list["recommendations"][0];
    let path = format!("/api/v1/recommendations/{}", seeded["id"].as_str().unwrap());
    let edit = |note: &str| json!({"version": seeded["version"], "note": note});
    let (edit_x, edit_y) = (edit("x"), edit("y"));
    let (x, y) = tokio::join!(one.post_as(&analyst, &path, &edit_x), other.post_as(&analyst, &path, &edit_y));
    let mut statuses = [x.0, y.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{x:?} {y:?}");
    let (_, history) = one.get_as(&analyst, &format!("{path}/history")).await;
    let next = seeded["version"].as_u64().unwrap() + 1;
    let versions: Vec<u64> =
        history["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(versions.iter().filter(|v| **v == next).count(), 1, "{history}");
    one.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn a_version_approved_before_units_were_required_takes_the_files_units_at_start() {
    let config = crate::support::test_config();
    let first = crate::support::spawn_app_with(config.clone()).await;
    let (_, v1) = first.get_json("/api/v1/register/versions/1").await;
    first.stop().await;
    // What an earlier release approved: the same journey without any unit.
    let mut old = v1.clone();
    for journey in old["journeys"].as_array_mut().unwrap() {
        journey["cases"]["unit"] = Value::Null;
        for stage in journey["stages"].as_array_mut().unwrap() {
            stage.as_object_mut().unwrap().remove("unit");
        }
    }
    let storage = touchpoint::storage::Storage::new(crate::support::server(), &config.clickhouse.database);
    storage
        .client()
        .query(
            "INSERT INTO register_versions (version, change_id, approved_at, approved_by, publish_by, documents) \
             SELECT 2, toUUID('00000000-0000-4000-8000-000000000001'), now(), 'earlier', now(), ?",
        )
        .bind(old.to_string())
        .execute()
        .await
        .unwrap();

    let again = crate::support::spawn_app_with(config).await;
    assert_eq!(versions(&again).await, [3, 2, 1], "the files' units as a version of their own");
    let (_, journey) = again.get_json("/api/v1/journeys/scrap-metal-licensing").await;
    assert_eq!(journey["cases"]["unit"], "general");
    let application = journey["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap();
    assert_eq!(application["unit"], "licensing");
    again.stop().await;
}
