//! The lab's recommendations: seeded from the journey file once, worked from
//! proposed to verified by the roles that may, and judged on ratings stored
//! around the day each was implemented (issue 16).

use serde_json::{Value, json};
use touchpoint::domain::Role;
use touchpoint::storage::rows::FeedbackRow;
use uuid::Uuid;

use crate::support::{TestApp, api_token, spawn_app, spawn_app_with, test_config};

const JOURNEY: &str = "scrap-metal-licensing";
const LIST: &str = "/api/v1/journeys/scrap-metal-licensing/recommendations";
const DAY: u32 = 86_400;

/// The UTC midnight `days` ago.
pub fn midnight(days: u32) -> u32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    (now / DAY - days) * DAY
}

fn iso(at: u32) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::from(at)).unwrap().date().to_string()
}

/// A csat rating at noon of the day starting `at`; 1–2 negative, 4–5 positive.
fn rating(stage: &str, at: u32, score: u8, tags: &[&str]) -> FeedbackRow {
    FeedbackRow {
        event_id: Uuid::new_v4(),
        occurred_at: at + DAY / 2,
        received_at: at + DAY / 2,
        site: "demo".into(),
        journey: JOURNEY.into(),
        stage: stage.into(),
        touchpoint: "site".into(),
        channel: "site".into(),
        segment: 1,
        scale: 1,
        score,
        emotion: [0, -1, -1, 0, 1, 1][usize::from(score)],
        comment: String::new(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        reported_duration_ms: None,
        locale: "ru".into(),
        session_id: String::new(),
        page_path: String::new(),
        case_ref: String::new(),
    }
}

/// Twenty ratings on days before `day` (ten of `before[0]`, ten of
/// `before[1]`), twenty after it likewise, and five 1s on the day itself,
/// which neither window reads.
pub fn around(stage: &str, day: u32, before: [u8; 2], after: [u8; 2], tags: &[&str]) -> Vec<FeedbackRow> {
    let mut rows = Vec::new();
    for k in 1..=20u32 {
        let pick = |pair: [u8; 2]| pair[(k % 2) as usize];
        rows.push(rating(stage, day - k * DAY, pick(before), tags));
        rows.push(rating(stage, day + k * DAY, pick(after), &[]));
    }
    rows.extend((0..5).map(|_| rating(stage, day, 1, &[])));
    rows
}

pub async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get_as(token, LIST).await;
    assert_eq!(status, 200, "{body}");
    body["recommendations"].as_array().unwrap().clone()
}

fn by_id<'a>(all: &'a [Value], id: &str) -> &'a Value {
    all.iter().find(|r| r["id"] == id).unwrap()
}

#[tokio::test]
async fn the_journey_files_recommendation_is_worked_to_verified_on_a_step_it_caused() {
    let config = test_config();
    let app = spawn_app_with(config.clone()).await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let stranger = api_token(&app.storage, Role::Handler, &["general"]).await;

    let seeded = list(&app, &analyst).await;
    assert_eq!(seeded.len(), 1, "{seeded:?}");
    let r = &seeded[0];
    assert_eq!(
        (r["stage"].as_str(), r["status"].as_str(), r["version"].as_u64()),
        (Some("information_search"), Some("proposed"), Some(1))
    );
    assert!(r["text"]["ru"].as_str().unwrap().starts_with("Реализовать единое цифровое пространство"), "{r}");
    assert!(r["effect"].is_null(), "not implemented: no effect");
    let id = r["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/recommendations/{id}");

    // Scores 25/50 before (mean 37.5), 75/100 after (87.5); the day itself holds 1s.
    let day = midnight(30);
    app.insert_feedback(&around("information_search", day, [2, 3], [4, 5], &[])).await;

    let (status, body) = app.post_as(&handler, &path, &json!({"status": "accepted"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (403, Some("owner_unit")), "not yet its unit: {body}");
    let (status, body) =
        app.post_as(&analyst, &path, &json!({"status": "accepted", "owner_unit": "licensing", "version": 1})).await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    let (status, body) = app.post_as(&stranger, &path, &json!({"status": "in_progress"})).await;
    assert_eq!(status, 403, "another unit's handler: {body}");
    let (status, body) = app.post_as(&handler, &path, &json!({"status": "accepted", "measure": "time_spent"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (403, Some("status")),
        "a unit reports progress only: {body}"
    );
    assert_eq!(app.post_as(&handler, &path, &json!({"status": "in_progress"})).await.0, 200);
    // The page's form sends the status as it is with the unit's planned day.
    let planned = json!({"status": "in_progress", "planned_on": iso(day), "note": "план"});
    assert_eq!(app.post_as(&handler, &path, &planned).await.0, 200);
    let done = json!({"status": "implemented", "implemented_on": iso(day), "note": "портал запущен"});
    let (status, body) = app.post_as(&handler, &path, &done).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("implemented")), "{body}");
    let (status, _) = app.post_as(&handler, &path, &json!({"status": "verified"})).await;
    assert_eq!(status, 403, "the lab verifies");

    let now = by_id(&list(&app, &analyst).await, &id).clone();
    let effect = &now["effect"];
    assert_eq!(effect["verdict"], "improved", "{now}");
    assert_eq!((effect["n_before"].as_u64(), effect["n_after"].as_u64()), (Some(20), Some(20)), "{effect}");
    assert_eq!((effect["before"].as_f64(), effect["after"].as_f64()), (Some(37.5), Some(87.5)));
    assert_eq!(effect["method"], "welch");
    // As hand-computed in the unit tests: half-width t(0.975, 38)·√(2·3125/19/20).
    let (lo, hi) = (effect["ci95"][0].as_f64().unwrap(), effect["ci95"][1].as_f64().unwrap());
    assert!((lo - 41.789997545).abs() < 1e-6 && (hi - 58.210002455).abs() < 1e-6, "{effect}");
    assert_eq!(now["windows"]["days"], 28);

    let (status, body) = app.post_as(&analyst, &path, &json!({"status": "verified"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("verified")), "{body}");
    let (_, history) = app.get_as(&analyst, &format!("{path}/history")).await;
    let versions: Vec<(u64, &str)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [(6, "verified"), (5, "implemented"), (4, "in_progress"), (3, "in_progress"), (2, "accepted"), (1, "proposed")]
    );
    app.stop().await;

    // Another start on the same database seeds nothing new.
    let again = spawn_app_with(config).await;
    let all = list(&again, &analyst).await;
    assert_eq!(all.len(), 1);
    assert_eq!((all[0]["status"].as_str(), all[0]["version"].as_u64()), (Some("verified"), Some(6)));
    again.stop().await;
}

/// Records a recommendation at `stage` and takes it to implemented on `day`.
pub async fn implemented(app: &TestApp, analyst: &str, stage: &str, extra: Value, day: u32) -> String {
    let mut body = json!({"journey": JOURNEY, "stage": stage, "text_ru": "Сократить число шагов"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, created) = app.post_as(analyst, "/api/v1/recommendations", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/recommendations/{id}");
    for step in [json!({"status": "accepted", "owner_unit": "licensing"}), json!({"status": "in_progress"})] {
        assert_eq!(app.post_as(analyst, &path, &step).await.0, 200);
    }
    let (status, body) =
        app.post_as(analyst, &path, &json!({"status": "implemented", "implemented_on": iso(day)})).await;
    assert_eq!(status, 200, "{body}");
    id
}

#[tokio::test]
async fn no_change_is_not_claimed_too_few_answers_are_said_so_and_several_are_corrected_for() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let day = midnight(40);
    // The same mix before and after: the share of negatives stays at a half.
    app.insert_feedback(&around("preparation", day, [2, 4], [4, 2], &[])).await;
    // A tag on every answer before, on none after, but only three answers a window.
    let few: Vec<FeedbackRow> = (1..=3u32)
        .flat_map(|k| {
            [
                rating("information_search", day - k * DAY, 2, &["hard_to_find"]),
                rating("information_search", day + k * DAY, 5, &[]),
            ]
        })
        .collect();
    app.insert_feedback(&few).await;

    let flat = implemented(&app, &analyst, "preparation", json!({"measure": "negative_share"}), day).await;
    let tagged = implemented(
        &app,
        &analyst,
        "information_search",
        json!({"measure": "tag_share", "tag": "hard_to_find", "aim": "down"}),
        day,
    )
    .await;

    let all = list(&app, &analyst).await;
    let flat_effect = &by_id(&all, &flat)["effect"];
    assert_eq!(flat_effect["verdict"], "no_detectable_change", "{flat_effect}");
    assert_eq!((flat_effect["before"].as_f64(), flat_effect["after"].as_f64()), (Some(50.0), Some(50.0)));
    assert_eq!(flat_effect["method"], "newcombe");
    // Two judged together (the seeded one is only proposed): each at 97.5%.
    assert_eq!(flat_effect["level"].as_f64(), Some(0.975));
    let (lo, hi) = (flat_effect["interval"][0].as_f64().unwrap(), flat_effect["interval"][1].as_f64().unwrap());
    let (lo95, hi95) = (flat_effect["ci95"][0].as_f64().unwrap(), flat_effect["ci95"][1].as_f64().unwrap());
    assert!(lo < lo95 && hi > hi95 && lo95 < 0.0 && hi95 > 0.0, "{flat_effect}");

    let tagged_effect = &by_id(&all, &tagged)["effect"];
    assert_eq!(tagged_effect["verdict"], "too_few_answers", "{tagged_effect}");
    assert_eq!((tagged_effect["n_before"].as_u64(), tagged_effect["n_after"].as_u64()), (Some(3), Some(3)));
    assert!(tagged_effect["difference"].is_null(), "no number from three answers");

    // Verified needs an improvement the data shows.
    let (status, body) =
        app.post_as(&analyst, &format!("/api/v1/recommendations/{flat}"), &json!({"status": "verified"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (409, Some("status")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no_detectable_change"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn bad_edits_are_refused_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let new = |extra: Value| {
        let mut body = json!({"journey": JOURNEY, "stage": "application", "text_ru": "Упростить форму"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, field, status) in [
        (json!({"stage": "nowhere"}), "stage", 422),
        (json!({"journey": "nowhere"}), "id", 404),
        (json!({"text_ru": "  "}), "text_ru", 422),
        (json!({"planned_on": "2026-13-01"}), "planned_on", 422),
        (json!({"measure": "tag_share", "tag": "hard_to_find"}), "tag", 422),
        (json!({"measure": "time_spent", "aim": "up"}), "aim", 422),
        (json!({"window_days": 0}), "window_days", 422),
        (json!({"owner_unit": "Отдел №1"}), "owner_unit", 422),
        (json!({"status": "accepted", "owner_unit": "licensing"}), "status", 422),
        (json!({"colour": "red"}), "colour", 422),
    ] {
        let (got, body) = app.post_as(&analyst, "/api/v1/recommendations", &new(extra.clone())).await;
        assert_eq!(got, status, "{extra}: {body}");
        let named = body["error"]["field"].as_str().map(str::to_string).unwrap_or_default();
        assert!(named == field || body["error"]["message"].as_str().unwrap_or("").contains(field), "{extra}: {body}");
    }
    let (status, created) = app.post_as(&analyst, "/api/v1/recommendations", &new(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/api/v1/recommendations/{}", created["id"].as_str().unwrap());
    let tomorrow = iso(midnight(0) + 2 * DAY);
    for (edit, field, status) in [
        (json!({"status": "implemented"}), "status", 409),
        (json!({"status": "accepted"}), "owner_unit", 422),
        (json!({"status": "accepted", "owner_unit": "licensing", "version": 7}), "version", 409),
        (json!({"implemented_on": tomorrow}), "implemented_on", 422),
    ] {
        let (got, body) = app.post_as(&analyst, &path, &edit).await;
        assert_eq!((got, body["error"]["field"].as_str()), (status, Some(field)), "{edit}: {body}");
    }
    let (status, body) = app.post_as(&analyst, "/api/v1/recommendations/not-a-uuid", &json!({})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("id")), "{body}");
    let (_, history) = app.get_as(&analyst, &format!("{path}/history")).await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1, "nothing half-applied: {history}");
    app.stop().await;
}

/// The PDF as an independent reader (poppler's pdftotext) sees its text.
fn pdf_text(pdf: &[u8]) -> String {
    let file = crate::support::scratch("report").join("report.pdf");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, pdf).unwrap();
    let out =
        std::process::Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext (poppler-utils) runs");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_map_the_timeline_and_the_report_show_each_recommendation_and_its_effect() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let day = midnight(30);
    app.insert_feedback(&around("application", day, [2, 3], [4, 5], &[])).await;
    implemented(&app, &analyst, "application", json!({"text_en": "Cut the steps"}), day).await;
    let get = |path: String| {
        let request = app.http.get(format!("{}{path}", app.address)).bearer_auth(&analyst);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response
        }
    };

    let map = get(format!("/dashboard/{JOURNEY}?period=90")).await.text().await.unwrap();
    assert!(map.contains("Р1. Реализовать единое цифровое пространство"), "the seeded one, numbered: {map}");
    assert!(map.contains("Р2. Сократить число шагов — выполнена: 37.5 → 87.5"), "with its effect");
    let timeline = get(format!("/api/v1/journeys/{JOURNEY}/charts/timeline.svg?period=90&lang=en")).await;
    let svg = timeline.text().await.unwrap();
    assert!(svg.contains(">\nR2\n</text>"), "the day R2 was done is marked on the timeline: {svg}");
    let recent = get(format!("/api/v1/journeys/{JOURNEY}/charts/timeline.svg?period=7")).await.text().await.unwrap();
    assert!(recent.contains("<svg") && !recent.contains(">\nР2\n</text>"), "not when the day is outside the period");

    let page = get(format!("/dashboard/{JOURNEY}/report?lang=en")).await.text().await.unwrap();
    assert!(page.contains("Cut the steps") && page.contains("improved") && page.contains("<svg"), "{page}");
    let response = get(format!("/dashboard/{JOURNEY}/report.pdf")).await;
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for expected in ["Карта пути клиента", "Р2. Сократить число шагов", "+50.0 балла", "улучшилось", "Метод"]
    {
        assert!(text.contains(expected), "{expected:?} not in the PDF's text:\n{text}");
    }
    // A journey that does not exist, and a reader who is not an analyst.
    let missing = app.http.get(format!("{}/dashboard/nowhere/report.pdf", app.address)).bearer_auth(&analyst);
    assert_eq!(missing.send().await.unwrap().status(), 404);
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let refused = app.http.get(format!("{}/dashboard/{JOURNEY}/report.pdf", app.address)).bearer_auth(&handler);
    assert_eq!(refused.send().await.unwrap().status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn the_page_and_the_report_pass_axe_and_a_form_moves_a_recommendation() {
    use fantoccini::Locator;
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let day = midnight(30);
    app.insert_feedback(&around("application", day, [2, 3], [4, 5], &[])).await;
    implemented(&app, &analyst, "application", json!({}), day).await;
    let grant = touchpoint::accounts::auth::Grant::analyst();
    touchpoint::accounts::auth::add_user(&app.storage, "lab", crate::support::PASSWORD, &grant).await.unwrap();
    let (_driver, client) = crate::browser::browser(true).await;
    client.goto(&format!("{}/recommendations", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("lab").await.unwrap();
    let password = client.find(Locator::Css("input[name=password]")).await.unwrap();
    password.send_keys(crate::support::PASSWORD).await.unwrap();
    password.send_keys(crate::browser::ENTER).await.unwrap();
    client.wait().for_element(Locator::Css("table.queue")).await.unwrap();
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "recommendations: {violations:#?}");

    // The seeded one, accepted through its form.
    client.find(Locator::Css("details summary")).await.unwrap().click().await.unwrap();
    let form = client.find(Locator::Css("details form")).await.unwrap();
    let owner = form.find(Locator::Css("input[name=owner_unit]")).await.unwrap();
    owner.clear().await.unwrap();
    owner.send_keys("licensing").await.unwrap();
    form.find(Locator::Css("select[name=status] option[value=accepted]")).await.unwrap().click().await.unwrap();
    form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("p[role=status]")).await.unwrap();
    let all = list(&app, &analyst).await;
    let seeded = all.iter().find(|r| r["stage"] == "information_search").unwrap();
    assert_eq!(
        (seeded["status"].as_str(), seeded["owner_unit"].as_str(), seeded["version"].as_u64()),
        (Some("accepted"), Some("licensing"), Some(2))
    );

    client.goto(&format!("{}/dashboard/{JOURNEY}/report", app.address)).await.unwrap();
    client.wait().for_element(Locator::Css("figure svg")).await.unwrap();
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "report: {violations:#?}");
    client.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn edits_at_once_each_become_their_own_version_and_a_stale_one_is_refused() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let id = list(&app, &analyst).await[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/recommendations/{id}");
    let notes: Vec<String> = (0..6).map(|k| format!("заметка {k}")).collect();
    let mut edits = tokio::task::JoinSet::new();
    for note in &notes {
        let request =
            app.http.post(format!("{}{path}", app.address)).bearer_auth(&analyst).json(&json!({ "note": note }));
        edits.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    assert_eq!(edits.join_all().await, [200; 6]);
    let (_, history) = app.get_as(&analyst, &format!("{path}/history")).await;
    let versions: Vec<u64> =
        history["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [7, 6, 5, 4, 3, 2, 1], "none overwrote another: {history}");
    let mut kept: Vec<&str> =
        history["versions"].as_array().unwrap()[..6].iter().map(|v| v["note"].as_str().unwrap()).collect();
    kept.sort();
    assert_eq!(kept, notes.iter().map(String::as_str).collect::<Vec<_>>());

    // Two people on version 7: the first wins, the second is told to reload.
    let first = app.post_as(&analyst, &path, &json!({"version": 7, "note": "первый"})).await;
    let second = app.post_as(&analyst, &path, &json!({"version": 7, "note": "второй"})).await;
    assert_eq!(first.0, 200);
    assert_eq!((second.0, second.1["error"]["field"].as_str()), (409, Some("version")), "{}", second.1);
    app.stop().await;
}

#[tokio::test]
async fn a_tags_share_is_its_tagged_answers_over_all_the_stages_answers() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let day = midnight(35);
    // Every answer before is tagged, none after; ten untagged ones before too.
    let mut rows = around("information_search", day, [2, 3], [4, 5], &["hard_to_find"]);
    rows.extend((1..=10u32).map(|k| rating("information_search", day - k * DAY, 4, &[])));
    app.insert_feedback(&rows).await;
    let measure = json!({"measure": "tag_share", "tag": "hard_to_find", "aim": "down"});
    let id = implemented(&app, &analyst, "information_search", measure, day).await;
    let effect = by_id(&list(&app, &analyst).await, &id)["effect"].clone();
    assert_eq!((effect["n_before"].as_u64(), effect["n_after"].as_u64()), (Some(30), Some(20)), "{effect}");
    let before = effect["before"].as_f64().unwrap();
    assert!((before - 200.0 / 3.0).abs() < 1e-9, "20 of 30 tagged: {effect}");
    assert_eq!((effect["after"].as_f64(), effect["verdict"].as_str()), (Some(0.0), Some("improved")));
    app.stop().await;
}

/// A response to the on-site assessment's five criteria at noon of the day
/// starting `at`: `queue` as given, `staff` always 1.
fn criteria(at: u32, queue: u8) -> touchpoint::storage::rows::AnswersRow {
    touchpoint::storage::rows::AnswersRow {
        event_id: Uuid::new_v4(),
        occurred_at: at + DAY / 2,
        received_at: at + DAY / 2,
        site: "demo".into(),
        journey: JOURNEY.into(),
        stage: "onsite_assessment".into(),
        touchpoint: "in_person".into(),
        channel: "in_person".into(),
        segment: 1,
        question_set: "vk5".into(),
        questions: vec!["queue".into(), "staff".into()],
        scores: vec![queue, 1],
        comment: String::new(),
        locale: "ru".into(),
        session_id: String::new(),
        page_path: String::new(),
    }
}

#[tokio::test]
async fn a_criterion_of_the_stages_question_set_is_a_measure_of_its_own() {
    let app = spawn_app().await;
    let analyst = api_token(&app.storage, Role::Analyst, &[]).await;
    let day = midnight(40);
    // The queue answered 2 and 3 before, 4 and 5 after; the staff 1 throughout.
    let rows: Vec<_> = (1..=20u32)
        .flat_map(|k| [criteria(day - k * DAY, 2 + (k % 2) as u8), criteria(day + k * DAY, 4 + (k % 2) as u8)])
        .collect();
    crate::support::insert_rows(&app.storage, "answers", &rows).await;

    let queue = json!({"measure": "criterion", "question": "queue"});
    let id = implemented(&app, &analyst, "onsite_assessment", queue, day).await;

    let all = list(&app, &analyst).await;
    let effect = &by_id(&all, &id)["effect"];
    assert_eq!((effect["n_before"].as_u64(), effect["n_after"].as_u64()), (Some(20), Some(20)), "{effect}");
    assert_eq!((effect["before"].as_f64(), effect["after"].as_f64()), (Some(2.5), Some(4.5)), "{effect}");
    assert_eq!((effect["method"].as_str(), effect["verdict"].as_str()), (Some("welch"), Some("improved")));
    let page = app.http.get(format!("{}/recommendations?lang=en", app.address)).bearer_auth(&analyst).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains("mean answer to a question (1–5) «queue»"), "{page}");
    assert!(page.contains("<option value=\"queue\">"), "the form offers the stage's questions");

    // A question the stage does not ask, or a stage without a set, is refused naming it.
    for (stage, question) in [("onsite_assessment", "speed"), ("preparation", "queue")] {
        let body = json!({"journey": JOURNEY, "stage": stage, "text_ru": "Сократить очередь",
                          "measure": "criterion", "question": question});
        let (status, reply) = app.post_as(&analyst, "/api/v1/recommendations", &body).await;
        assert_eq!((status, reply["error"]["field"].as_str()), (422, Some("question")), "{reply}");
    }
}
