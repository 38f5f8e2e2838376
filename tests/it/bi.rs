//! BI tools (issue 18, docs/bi.md): a read-only ClickHouse user reads stable
//! views over the rollups, and gets the numbers the dashboards show.

use serde_json::json;
use touchpoint::storage::{Endpoint, Storage};
use uuid::Uuid;

use crate::official::{seed, spawn_app};
use crate::support::{TestApp, ago, analyst_token, wait_for_rolled_up};

/// The shared test server's read-only user, on `database`.
fn bi(app: &TestApp) -> Storage {
    let dir = std::fs::read_to_string(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-clickhouse"))
        .expect("the tests' own ClickHouse (not TOUCHPOINT_TEST_CLICKHOUSE_URL)");
    let password = std::fs::read_to_string(std::path::Path::new(dir.trim()).join("bi_password")).unwrap();
    let shared = crate::support::server();
    let endpoint = Endpoint {
        url: shared.url.clone(),
        user: touchpoint::storage::embedded::BI_USER.into(),
        password: password.trim().to_string().into(),
    };
    Storage::new(&endpoint, app.storage.database())
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Sums {
    key: String,
    n: i64,
    sum: f64,
}

async fn sums(bi: &Storage, sql: &str) -> Vec<Sums> {
    bi.client().query(sql).fetch_all().await.unwrap()
}

#[tokio::test]
async fn each_view_read_by_the_read_only_user_gives_the_dashboards_numbers() {
    let app = spawn_app().await;
    seed(&app).await;
    let call = json!({"event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 5, "talk_seconds": 60,
        "transfers": 3, "resolved": true, "process": "consulting", "operator": "op-1",
        "journey": "scrap-metal-licensing", "stage": "onsite_assessment"});
    assert_eq!(app.post_staff("/api/v1/calls", &call).await.0, 202);
    let timing = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "duration_ms": 90000, "measure": "task", "source": "measured"});
    assert_eq!(app.post("/api/v1/timings", &timing).await.0, 202);
    wait_for_rolled_up(&app.storage, "calls", 1).await;
    wait_for_rolled_up(&app.storage, "timings", 1).await;
    let token = analyst_token(&app.storage).await;
    let stats = app.stats(&token, "period=7").await;
    let (_, official) = app.get_as(&token, "/api/v1/journeys/scrap-metal-licensing/official?period=7").await;
    let bi = bi(&app);
    let week = "journey = 'scrap-metal-licensing' AND day >= today() - 6";

    // Ratings: answers and the mean score (0–100) per stage.
    let ratings =
        sums(&bi, &format!("SELECT stage AS key, sum(answers) AS n, sum(score_sum) AS sum FROM bi_ratings_daily WHERE {week} GROUP BY stage")).await;
    let stage = stats["stages"].as_array().unwrap().iter().find(|s| s["id"] == "onsite_assessment").unwrap();
    let row = ratings.iter().find(|r| r.key == "onsite_assessment").unwrap();
    assert_eq!(row.n, stage["n"].as_i64().unwrap(), "{stats}");
    // Criteria: answers and the mean (1–5) per question, and the distribution.
    let criteria = sums(&bi, &format!("SELECT question AS key, sum(answers) AS n, toFloat64(sum(score_sum)) AS sum FROM bi_criteria_daily WHERE {week} GROUP BY question")).await;
    for c in official["criteria"].as_array().unwrap() {
        let row = criteria.iter().find(|r| r.key == c["question"].as_str().unwrap()).unwrap();
        assert_eq!(row.n, c["n"].as_i64().unwrap());
        assert!((row.sum / row.n as f64 - c["mean"].as_f64().unwrap()).abs() < 1e-9, "{c}");
    }
    let counts: Vec<i64> = bi
        .client()
        .query(&format!("SELECT [sum(n1), sum(n2), sum(n3), sum(n4), sum(n5)] FROM bi_criteria_daily WHERE {week} AND question = 'staff'"))
        .fetch_one()
        .await
        .unwrap();
    let staff = official["criteria"].as_array().unwrap().iter().find(|c| c["question"] == "staff").unwrap();
    assert_eq!(json!(counts), staff["counts"]);
    // Offers: shown, opened and sent, as the response rates count them.
    let offers = sums(
        &bi,
        &format!("SELECT kind AS key, sum(offers) AS n, 0. AS sum FROM bi_offers_daily WHERE {week} GROUP BY kind"),
    )
    .await;
    let reach = official["reach"].as_array().unwrap();
    for kind in ["shown", "opened", "sent"] {
        let expected: i64 = reach.iter().map(|r| r[kind].as_i64().unwrap()).sum();
        assert_eq!(offers.iter().find(|r| r.key == kind).map_or(0, |r| r.n), expected, "{kind}");
    }
    // Calls and stage time.
    let calls = sums(&bi, &format!("SELECT journey AS key, sum(calls) AS n, toFloat64(sum(over_two_transfers)) AS sum FROM bi_calls_daily WHERE {week} GROUP BY journey")).await;
    assert_eq!(
        (calls[0].n, calls[0].sum as i64),
        (stats["calls"]["n"].as_i64().unwrap(), stats["calls"]["over_two_transfers"].as_i64().unwrap())
    );
    let timed = sums(&bi, &format!("SELECT stage AS key, toInt64(sum(timed)) AS n, max(median_ms) AS sum FROM bi_stage_time_daily WHERE {week} GROUP BY stage")).await;
    let application = stats["stages"].as_array().unwrap().iter().find(|s| s["id"] == "application").unwrap();
    assert_eq!(timed.iter().find(|r| r.key == "application").unwrap().n, application["time"]["n"].as_i64().unwrap());
}

#[tokio::test]
async fn the_read_only_user_can_neither_write_nor_change_the_schema() {
    let app = spawn_app().await;
    let bi = bi(&app);
    for sql in [
        "INSERT INTO offers_daily (journey, n) VALUES ('x', 1)",
        "DROP TABLE bi_ratings_daily",
        "CREATE TABLE mine (x UInt8) ENGINE = Memory",
        "ALTER TABLE feedback DELETE WHERE 1",
    ] {
        let error = bi.client().query(sql).execute().await.expect_err(sql).to_string();
        assert!(error.contains("readonly") || error.contains("Cannot"), "{sql}: {error}");
    }
    let read: u64 = bi.client().query("SELECT count() FROM bi_ratings_daily").fetch_one().await.unwrap();
    assert_eq!(read, 0, "and reads");
}
