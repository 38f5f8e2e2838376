//! The phone log and the written-channel timeline, behind the staff token.

use serde_json::{Value, json};
use touchpoint::storage::rows::{CallRow, LetterRow};
use uuid::Uuid;

use crate::support::{TestApp, count_rows, spawn_app, wait_for_rows};

fn ago(secs: u64) -> String {
    crate::support::ago(secs).1
}

fn call(event_id: Uuid, transfers: u8) -> Value {
    json!({
        "event_id": event_id,
        "started_at": ago(3600),
        "wait_seconds": 45,
        "talk_seconds": 310,
        "transfers": transfers,
        "resolved": true,
        "process": "consulting",
        "operator": "op-7f3a",
        "journey": "scrap-metal-licensing",
        "stage": "information_search",
        "segment": "sole_proprietor",
        "rating": { "scale": "csat", "score": 4 }
    })
}

#[tokio::test]
async fn staff_endpoints_need_a_valid_bearer_token() {
    let app = spawn_app().await;
    for path in ["/api/v1/calls", "/api/v1/correspondence", "/api/v1/email-links"] {
        let none = app.post_json(path, &call(Uuid::new_v4(), 0)).await;
        let wrong = app
            .http
            .post(format!("{}{path}", app.address))
            .bearer_auth("test-staff-token-0123456780")
            .json(&call(Uuid::new_v4(), 0))
            .send()
            .await
            .unwrap();

        for response in [none, wrong] {
            assert_eq!(response.status(), 401, "{path}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "unauthorized");
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count_rows(&app.storage, "calls").await, 0);
}

async fn calls(app: &TestApp) -> Vec<CallRow> {
    app.storage.client().query("SELECT ?fields FROM calls FINAL ORDER BY transfers").fetch_all().await.unwrap()
}

#[tokio::test]
async fn a_call_lands_and_more_than_two_transfers_break_the_standard() {
    let app = spawn_app().await;
    let (ok_id, bad_id) = (Uuid::new_v4(), Uuid::new_v4());

    let (s1, within) = app.post_staff("/api/v1/calls", &call(ok_id, 2)).await;
    let (s2, beyond) = app.post_staff("/api/v1/calls", &call(bad_id, 3)).await;

    assert_eq!((s1.as_u16(), s2.as_u16()), (202, 202), "{within} {beyond}");
    assert_eq!(within["breaks_transfer_standard"], false);
    assert_eq!(beyond["breaks_transfer_standard"], true);
    assert_eq!(wait_for_rows(&app.storage, "calls", 2).await, 2);
    let rows = calls(&app).await;
    let row = &rows[0];
    assert_eq!(row.event_id, ok_id);
    assert_eq!(
        (row.journey.as_str(), row.stage.as_str(), row.touchpoint.as_str()),
        ("scrap-metal-licensing", "information_search", "phone")
    );
    assert_eq!((row.process.as_str(), row.operator.as_str(), row.segment), ("consulting", "op-7f3a", 3));
    assert_eq!((row.wait_seconds, row.talk_seconds, row.transfers, row.resolved), (45, 310, 2, 1));
    assert_eq!((row.rating_scale, row.rating_score), (1, Some(4)));
    let flags: Vec<u8> = app
        .storage
        .client()
        .query("SELECT breaks_transfer_standard FROM calls FINAL ORDER BY transfers")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(flags, vec![0, 1]);
    // The rating asked at the end of the call counts as phone feedback of the stage.
    assert_eq!(wait_for_rows(&app.storage, "feedback", 2).await, 2);
    let phone: u64 = app
        .storage
        .client()
        .query("SELECT count() FROM feedback FINAL WHERE touchpoint = 'phone' AND score = 4 AND emotion = 'positive'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(phone, 2);
}

#[tokio::test]
async fn bad_calls_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown process", json!({"process": "fishing"}), "process"),
        ("rating out of range", json!({"rating": {"scale": "nps", "score": 11}}), "rating.score"),
        ("91 days ago", json!({"started_at": ago(91 * 24 * 3600)}), "started_at"),
        (
            "ahead of the clock",
            json!({"started_at": humantime::format_rfc3339_seconds(
            std::time::SystemTime::now() + std::time::Duration::from_secs(600)).to_string()}),
            "started_at",
        ),
        ("unknown stage", json!({"stage": "payment"}), "stage"),
        ("negative wait", json!({"wait_seconds": -1}), "wait_seconds"),
    ];
    for (case, change, field) in cases {
        let mut body = call(Uuid::new_v4(), 0);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }

        let (status, answer) = app.post_staff("/api/v1/calls", &body).await;

        assert_eq!(status, 422, "{case}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{case}: {answer}");
    }
}

#[tokio::test]
async fn a_letter_timeline_is_updated_in_place() {
    let app = spawn_app().await;
    let letter = json!({
        "event_id": Uuid::new_v4(),
        "letter_id": "28-01/1234",
        "touchpoint": "email",
        "received_at": ago(7200),
        "journey": "scrap-metal-licensing",
        "stage": "service_result",
        "process": "consulting",
        "segment": "legal_entity"
    });
    let mut acknowledged = letter.clone();
    acknowledged["event_id"] = json!(Uuid::new_v4());
    acknowledged["acknowledged_at"] = json!(ago(6600));
    let mut answered = acknowledged.clone();
    answered["event_id"] = json!(Uuid::new_v4());
    answered["answered_at"] = json!(ago(1200));

    for body in [&letter, &acknowledged] {
        assert_eq!(app.post_staff("/api/v1/correspondence", body).await.0, 202);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a later `updated_at`
    assert_eq!(app.post_staff("/api/v1/correspondence", &answered).await.0, 202);

    let sql = "SELECT count() FROM correspondence WHERE isNotNull(answered_at)";
    crate::support::until_stored("the answered state", async || {
        app.storage.client().query(sql).fetch_one::<u64>().await.unwrap() > 0
    })
    .await;
    let rows: Vec<LetterRow> =
        app.storage.client().query("SELECT ?fields FROM correspondence FINAL").fetch_all().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.letter_id, "28-01/1234");
    assert_eq!(row.acknowledged_at.unwrap() - row.received_at, 600);
    assert_eq!(row.answered_at.unwrap() - row.received_at, 6000);
    assert_eq!((row.touchpoint.as_str(), row.process.as_str(), row.segment), ("email", "consulting", 2));
}

#[tokio::test]
async fn a_letter_answered_before_it_arrived_or_on_a_spoken_channel_is_refused() {
    let app = spawn_app().await;
    let base = json!({"event_id": Uuid::new_v4(), "letter_id": "x", "touchpoint": "email", "received_at": ago(60)});
    let mut early = base.clone();
    early["answered_at"] = json!(ago(120));
    let mut spoken = base.clone();
    spoken["touchpoint"] = json!("phone");

    let (s1, a1) = app.post_staff("/api/v1/correspondence", &early).await;
    let (s2, a2) = app.post_staff("/api/v1/correspondence", &spoken).await;

    assert_eq!((s1.as_u16(), a1["error"]["field"].as_str()), (422, Some("answered_at")));
    assert_eq!((s2.as_u16(), a2["error"]["field"].as_str()), (422, Some("touchpoint")));
}
