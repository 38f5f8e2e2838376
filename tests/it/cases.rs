//! Cases opened by events: which events open one, with what unit, reason and
//! working-day deadlines. (That a retried event opens no second case is
//! checked with every other table in `exactly_once`.)

use std::time::{Duration, SystemTime};

use clickhouse::Row;
use serde::Deserialize;
use serde_json::json;
use time::UtcOffset;
use touchpoint::domain::calendar::{Calendar, day_of};
use uuid::Uuid;

use crate::support::{STAFF_TOKEN, ago, catalog_with_units, repo, spawn_app_with, test_config, wait_for_rows};

#[derive(Debug, Row, Deserialize)]
struct Case {
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    opened_at: u32,
    stage: String,
    touchpoint: String,
    unit: String,
    reason: String,
    acknowledge_by: u32,
    answer_by: u32,
}

fn at(unix: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(unix))
}

/// Working days after the day of `from` up to and including the day that ends at `end`.
fn working_days(calendar: &Calendar, offset: UtcOffset, from: u32, end: u32) -> u32 {
    let (mut day, last) = (day_of(at(from), offset), day_of(at(end - 1), offset));
    let mut n = 0;
    while day < last {
        day = day.next_day().unwrap();
        n += u32::from(calendar.is_working(day));
    }
    n
}

#[tokio::test]
async fn bad_ratings_and_calls_past_the_standard_open_cases_with_working_day_deadlines() {
    let mut config = test_config();
    config.cases.utc_offset = "+04:00".into();
    let app = spawn_app_with(config).await;
    let rating = |score: u8| {
        json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
               "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": score})
    };
    let call = |transfers: u8, score: u8| {
        json!({"event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 30, "talk_seconds": 200,
               "transfers": transfers, "resolved": true, "process": "consulting", "operator": "op-7",
               "journey": "scrap-metal-licensing", "stage": "information_search",
               "rating": {"scale": "nps", "score": score}})
    };
    let (low, good) = (rating(2), rating(3));
    let (transferred, detractor, fine) = (call(3, 9), call(1, 4), call(2, 9));
    for body in [&low, &good] {
        assert_eq!(app.post("/api/v1/feedback", body).await.0, 202);
    }
    for body in [&transferred, &detractor, &fine] {
        let r = app.http.post(format!("{}/api/v1/calls", app.address)).bearer_auth(STAFF_TOKEN).json(body);
        assert_eq!(r.send().await.unwrap().status(), 202);
    }

    wait_for_rows(&app.storage, "calls", 3).await;
    wait_for_rows(&app.storage, "feedback", 4).await;
    // Each table is its own INSERT: the cases may land after the ratings.
    wait_for_rows(&app.storage, "cases", 3).await;
    let cases: Vec<Case> =
        app.storage.client().query("SELECT ?fields FROM cases FINAL ORDER BY reason, stage").fetch_all().await.unwrap();
    let opened: Vec<(Uuid, &str, &str, &str)> =
        cases.iter().map(|c| (c.event_id, c.reason.as_str(), c.stage.as_str(), c.touchpoint.as_str())).collect();
    let id = |v: &serde_json::Value| v["event_id"].as_str().unwrap().parse::<Uuid>().unwrap();
    assert_eq!(
        opened,
        [
            (id(&low), "low_score", "application", "epgu"),
            (id(&detractor), "low_score", "information_search", "phone"),
            (id(&transferred), "transfers", "information_search", "phone"),
        ],
        "csat 3, nps 9 after two transfers: no case"
    );
    let calendar = Calendar::load(&repo().join("dashboards")).unwrap();
    let offset = UtcOffset::from_hms(4, 0, 0).unwrap();
    for case in &cases {
        let unit = if case.stage == "application" { "licensing" } else { "general" };
        assert_eq!(case.unit, unit, "the example journey's units");
        assert!(ago(120).0 <= case.opened_at && case.opened_at <= ago(0).0, "opened when it arrived");
        assert_eq!(working_days(&calendar, offset, case.opened_at, case.acknowledge_by), 1, "{case:?}");
        assert_eq!(working_days(&calendar, offset, case.opened_at, case.answer_by), 5, "{case:?}");
        for due in [case.acknowledge_by, case.answer_by] {
            let end = time::OffsetDateTime::from_unix_timestamp(i64::from(due)).unwrap().to_offset(offset);
            assert_eq!((end.hour(), end.minute()), (0, 0), "a deadline is the end of a day at +04:00");
            assert!(calendar.is_working(day_of(at(due - 1), offset)), "and of a working day");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_handler_works_the_cases_of_its_units_through_to_closed() {
    use touchpoint::domain::Role;
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    let app = spawn_app_with(config).await;
    let rating = |stage: &str, touchpoint: &str| {
        json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
               "stage": stage, "touchpoint": touchpoint, "scale": "csat", "score": 1})
    };
    let (ours, theirs) = (rating("application", "epgu"), rating("information_search", "site"));
    for body in [&ours, &theirs] {
        assert_eq!(app.post("/api/v1/feedback", body).await.0, 202);
    }
    wait_for_rows(&app.storage, "cases", 2).await;
    let (handler, analyst) = (
        crate::support::api_token(&app.storage, Role::Handler, &["licensing"]).await,
        crate::support::analyst_token(&app.storage).await,
    );
    let id = |v: &serde_json::Value| v["event_id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let get = |path: String, token: &str| http.get(format!("{}{path}", app.address)).bearer_auth(token).send();
    let post = |change: serde_json::Value| {
        http.post(format!("{}/api/v1/cases/{}/changes", app.address, id(&ours)))
            .bearer_auth(&handler)
            .json(&change)
            .send()
    };

    let queue: serde_json::Value = get("/api/v1/cases".into(), &handler).await.unwrap().json().await.unwrap();
    let listed: Vec<(&str, &str, &str, bool)> = queue["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["unit"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["overdue"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [(id(&ours).as_str(), "licensing", "new", false)], "only its unit's case");
    assert_eq!(get(format!("/api/v1/cases/{}", id(&theirs)), &handler).await.unwrap().status(), 403);
    assert_eq!(get(format!("/api/v1/cases/{}", Uuid::new_v4()), &handler).await.unwrap().status(), 404);
    assert_eq!(get("/api/v1/cases?unit=general".into(), &handler).await.unwrap().status(), 403);
    assert_eq!(get("/api/v1/cases".into(), &analyst).await.unwrap().status(), 403, "analysts read dashboards");

    let acknowledge = json!({"change_id": Uuid::new_v4(), "action": "acknowledge"});
    for _ in 0..2 {
        let r = post(acknowledge.clone()).await.unwrap();
        assert_eq!(r.status(), 200, "the same change twice is applied once");
    }
    let early = post(json!({"change_id": Uuid::new_v4(), "action": "close", "resolution": "resolved"})).await.unwrap();
    assert_eq!(early.status(), 422);
    assert_eq!(early.json::<serde_json::Value>().await.unwrap()["error"]["field"], "action");
    let answer = json!({"change_id": Uuid::new_v4(), "action": "answer", "text": "Форма <b>исправлена</b>"});
    assert_eq!(post(answer.clone()).await.unwrap().status(), 200);
    let mut other = answer.clone();
    other["text"] = json!("Другой ответ");
    let replayed = post(other).await.unwrap();
    assert_eq!(replayed.status(), 409, "the same change_id with other content is no retry");
    assert_eq!(replayed.json::<serde_json::Value>().await.unwrap()["error"]["field"], "change_id");
    let close = json!({"change_id": Uuid::new_v4(), "action": "close", "resolution": "resolved"});
    assert_eq!(post(close).await.unwrap().status(), 200);
    let late = post(json!({"change_id": Uuid::new_v4(), "action": "answer", "text": "ещё"})).await.unwrap();
    assert_eq!(late.status(), 409, "a reply to a closed case");

    let case: serde_json::Value =
        get(format!("/api/v1/cases/{}", id(&ours)), &handler).await.unwrap().json().await.unwrap();
    assert_eq!((case["status"].as_str(), case["resolution"].as_str()), (Some("closed"), Some("resolved")));
    assert_eq!(case["answer"], "Форма <b>исправлена</b>", "stored as written; pages escape it");
    assert!(case["acknowledged_at"].is_string() && case["answered_at"].is_string() && case["closed_at"].is_string());
    let changes: u64 = app.storage.client().query("SELECT count() FROM case_changes").fetch_one().await.unwrap();
    assert_eq!(changes, 3, "acknowledge (twice, one row), answer, close");
    app.stop().await;
}

#[tokio::test]
async fn a_case_past_its_deadline_is_overdue_until_its_step_is_done() {
    use touchpoint::domain::Role;
    let app = spawn_app_with(test_config()).await;
    let (opened, _) = ago(10 * 24 * 3600);
    let case = touchpoint::storage::rows::CaseRow {
        event_id: Uuid::new_v4(),
        opened_at: opened,
        journey: "scrap-metal-licensing".into(),
        stage: "application".into(),
        touchpoint: "epgu".into(),
        unit: "licensing".into(),
        reason: "low_score".into(),
        acknowledge_by: opened + 24 * 3600,
        answer_by: ago(60).0,
    };
    crate::support::insert_cases(&app.storage, [&case]).await;
    let handler = crate::support::api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let http = reqwest::Client::new();
    let overdue = || async {
        let url = format!("{}/api/v1/cases?overdue=true", app.address);
        let list: serde_json::Value = http.get(url).bearer_auth(&handler).send().await.unwrap().json().await.unwrap();
        list["cases"].as_array().unwrap().len()
    };
    assert_eq!(overdue().await, 1);
    let url = format!("{}/api/v1/cases/{}/changes", app.address, case.event_id);
    for step in [json!({"action": "answer", "text": "Ответ"}), json!({"action": "close", "resolution": "explained"})]
    {
        let mut change = step;
        change["change_id"] = json!(Uuid::new_v4());
        assert_eq!(http.post(&url).bearer_auth(&handler).json(&change).send().await.unwrap().status(), 200);
    }
    assert_eq!(overdue().await, 0, "a closed case is overdue no more");
    app.stop().await;
}

#[tokio::test]
async fn the_lab_reads_per_stage_how_cases_were_handled() {
    use touchpoint::domain::Role;
    use touchpoint::storage::rows::CaseRow;
    let app = spawn_app_with(test_config()).await;
    let now = ago(0).0;
    let case = |stage: &str, opened_at: u32, acknowledge_by: u32, answer_by: u32| CaseRow {
        event_id: Uuid::new_v4(),
        opened_at,
        journey: "scrap-metal-licensing".into(),
        stage: stage.into(),
        touchpoint: "epgu".into(),
        unit: "licensing".into(),
        reason: "low_score".into(),
        acknowledge_by,
        answer_by,
    };
    let day = 24 * 3600;
    let handled = case("application", now - 3 * 3600, now + day, now + 5 * day);
    let neglected = case("application", now - 10 * day, now - 9 * day, now - 60);
    let old = case("information_search", now - 40 * day, now - 39 * day, now - 35 * day);
    crate::support::insert_cases(&app.storage, [&handled, &neglected, &old]).await;
    let handler = crate::support::api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let url = format!("{}/api/v1/cases/{}/changes", app.address, handled.event_id);
    for step in [json!({"action": "acknowledge"}), json!({"action": "answer", "text": "Ответ"})] {
        let mut change = step;
        change["change_id"] = json!(Uuid::new_v4());
        let r = app.http.post(&url).bearer_auth(&handler).json(&change).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    // The client rated the answer on the follow page.
    touchpoint::follow::FollowStore::new(app.storage.clone()).rate(&handled, 4, now).await.unwrap();

    let analyst = crate::support::analyst_token(&app.storage).await;
    let report = |period: u32, token: String| {
        let url = format!("{}/api/v1/journeys/scrap-metal-licensing/cases?period={period}", app.address);
        app.http.get(url).bearer_auth(token).send()
    };
    assert_eq!(report(30, handler.clone()).await.unwrap().status(), 403, "the lab's numbers are an analyst's");
    let month: serde_json::Value = report(30, analyst.clone()).await.unwrap().json().await.unwrap();
    let stage = |r: &serde_json::Value, id: &str| {
        r["stages"].as_array().unwrap().iter().find(|s| s["stage"] == id).cloned().unwrap()
    };
    let application = stage(&month, "application");
    let counts: Vec<u64> = ["opened", "acknowledged_in_time", "answered_in_time", "overdue"]
        .iter()
        .map(|k| application[k].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 1, 1, 1], "{application}");
    let hours = application["median_hours_to_acknowledge"].as_f64().unwrap();
    assert!((3.0..3.1).contains(&hours), "acknowledged three hours after it opened: {hours}");
    let allowed = application["median_hours_allowed_to_acknowledge"].as_f64().unwrap();
    assert_eq!(allowed, 25.5, "27 h and 24 h allowed");
    assert_eq!(application["share_overdue"], 0.5);
    assert_eq!(
        (application["handling_ratings"].as_u64(), application["handling_satisfaction"].as_f64()),
        (Some(1), Some(4.0))
    );
    assert_eq!(stage(&month, "information_search")["opened"], 0, "opened 40 days ago");
    assert!(stage(&month, "information_search")["median_hours_to_answer"].is_null());
    let quarter: serde_json::Value = report(90, analyst.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(stage(&quarter, "information_search")["overdue"], 1);
    assert_eq!(month["stages"].as_array().unwrap().len(), 5, "every stage of the journey, in order");
    let url = format!("{}/dashboard/scrap-metal-licensing?period=30", app.address);
    let map = app.http.get(url).bearer_auth(&analyst).send().await.unwrap().text().await.unwrap();
    assert!(map.contains("Случаи по низким оценкам") && map.contains("просрочено 1 (50%)"), "on the journey map");
    assert!(map.contains("оценка ответа 4.0 из 5 (n=1)"));
    app.stop().await;
}

#[tokio::test]
async fn a_letter_not_acknowledged_in_time_opens_one_case_however_many_rounds_look() {
    let mut config = test_config();
    config.notify.housekeeping_interval = std::time::Duration::from_millis(100);
    let app = spawn_app_with(config).await;
    let letter = |id: &str, received: u64, acknowledged: Option<u64>| {
        let mut body = json!({"event_id": Uuid::new_v4(), "letter_id": id, "touchpoint": "email",
            "received_at": ago(received).1, "journey": "scrap-metal-licensing", "stage": "service_result"});
        if let Some(at) = acknowledged {
            body["acknowledged_at"] = json!(ago(at).1);
        }
        body
    };
    let day = 24 * 3600;
    // Twenty days ago is past any term, holidays included; an hour ago is within it.
    let letters = [
        letter("late", 20 * day, None),
        letter("acknowledged-late", 20 * day, Some(2 * day)),
        letter("acknowledged", 20 * day, Some(20 * day - 3600)),
        letter("new", 3600, None),
    ];
    for body in &letters {
        assert_eq!(app.post_staff("/api/v1/correspondence", body).await.0, 202);
    }
    wait_for_rows(&app.storage, "cases", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await; // more rounds
    let rows: Vec<(String, String)> = app
        .storage
        .client()
        .query("SELECT toString(event_id), reason FROM cases ORDER BY event_id")
        .fetch_all()
        .await
        .unwrap();
    let id = |letter: &str| {
        let ids = touchpoint::cases::letters::LetterCases::new(test_config().email.secret.as_ref());
        ids.case_id("scrap-metal-licensing", "service_result", "email", letter).to_string()
    };
    let mut expected = vec![
        (id("late"), "late_acknowledgement".to_string()),
        (id("acknowledged-late"), "late_acknowledgement".to_string()),
    ];
    expected.sort();
    let mut rows = rows;
    rows.sort();
    assert_eq!(rows, expected, "one row each, without FINAL: later rounds wrote nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_call_without_a_stage_opens_its_case_for_the_call_centre_when_one_is_named() {
    let call = |transfers: u8| {
        json!({"event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 30, "talk_seconds": 200,
               "transfers": transfers, "resolved": true, "process": "consulting", "operator": "op-7"})
    };
    for unit in [None, Some("call-centre")] {
        let mut config = test_config();
        config.cases.calls_unit = unit.map(String::from);
        let app = spawn_app_with(config).await;
        let (over, within) = (call(3), call(2));
        for body in [&over, &within] {
            assert_eq!(app.post_staff("/api/v1/calls", body).await.0, 202);
        }
        wait_for_rows(&app.storage, "calls", 2).await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await; // the cases' INSERT of the same round
        let cases: Vec<Case> = app.storage.client().query("SELECT ?fields FROM cases FINAL").fetch_all().await.unwrap();
        let opened: Vec<(String, &str, &str, &str)> = cases
            .iter()
            .map(|c| (c.event_id.to_string(), c.unit.as_str(), c.stage.as_str(), c.reason.as_str()))
            .collect();
        match unit {
            None => assert!(opened.is_empty(), "no journey, no rules, no unit: no case"),
            Some(unit) => {
                let id = over["event_id"].as_str().unwrap().to_string();
                assert_eq!(opened, [(id, unit, "", "transfers")], "the default rules: more than two transfers");
                assert!(cases[0].answer_by > cases[0].acknowledge_by);
            }
        }
        app.stop().await;
    }
}
