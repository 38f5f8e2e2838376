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

use crate::support::{STAFF_TOKEN, ago, repo, spawn_app_with, test_config, wait_for_rows};

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
        assert_eq!(case.unit, "", "the example journey names no units");
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
