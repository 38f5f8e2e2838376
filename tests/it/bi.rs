//! BI tools (issues 18 and 28, docs/bi.md): a read-only ClickHouse user reads
//! stable tables (dictionaries loaded from the rollups), gets the numbers the
//! dashboards show, and reads nothing else: on ClickHouse 18.16, as the local
//! server sets it up.

use serde_json::json;
use touchpoint::storage::{Endpoint, Storage};
use uuid::Uuid;

use crate::official::seed;
use crate::support::{BI_DATABASE, TestApp, ago, analyst_token, spawn_app_with, test_config, wait_for_rolled_up};

/// The shared test server's read-only user, on its BI database: the local
/// server's users as `touchpoint serve` writes them for `BI_DATABASE`.
fn bi(app: &TestApp) -> Storage {
    let password = shared_secret("bi_password");
    let shared = crate::support::server();
    let endpoint = Endpoint {
        url: shared.url.clone(),
        user: touchpoint::storage::embedded::BI_USER.into(),
        password: password.trim().to_string().into(),
    };
    Storage::new(&endpoint, &touchpoint::storage::bi::database_of(app.storage.database()))
}

/// A password the shared test server's folder keeps.
fn shared_secret(file: &str) -> String {
    let dir = std::fs::read_to_string(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-clickhouse"))
        .expect("the tests' own ClickHouse (not TOUCHPOINT_TEST_CLICKHOUSE_URL)");
    std::fs::read_to_string(std::path::Path::new(dir.trim()).join(file)).unwrap().trim().to_string()
}

/// The one app on `BI_DATABASE`, the only service database whose BI
/// database the shared server's `bi` user may read.
async fn bi_app() -> TestApp {
    let mut config = test_config();
    config.dashboards.min_answers = 3;
    config.clickhouse.database = BI_DATABASE.into();
    spawn_app_with(config).await
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
async fn the_read_only_user_gets_the_dashboards_numbers_from_its_tables_and_nothing_else() {
    let app = bi_app().await;
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
    // The dictionaries load every half minute to minute; a test does not wait for that.
    app.storage.client().query("SYSTEM RELOAD DICTIONARIES").execute().await.unwrap();
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
    refuses_everything_else(&bi).await;
}

/// What the BI user is refused, and why: (statement, a word of the error).
const REFUSED: &[(&str, &str)] = &[
    // The service's tables: password hashes, tokens, clients' addresses, keys.
    ("SELECT * FROM bi_views.analysts", "Access denied"),
    ("SELECT * FROM bi_views.api_tokens", "Access denied"),
    ("SELECT * FROM bi_views.follow_contacts", "Access denied"),
    ("SELECT * FROM bi_views.deliveries", "Access denied"),
    ("SELECT * FROM bi_views.secrets", "Access denied"),
    ("SELECT * FROM bi_views.feedback_comments", "Access denied"),
    // A subquery or a JOIN next to the BI tables runs as the BI user: a dictionary's load
    // query is its own, fixed. Nor the views the dictionaries load from.
    ("SELECT count() FROM bi_ratings_daily WHERE 1 IN (SELECT 1 FROM bi_views.secrets)", "Access denied"),
    ("SELECT count() FROM bi_offers_daily WHERE 1 IN (SELECT 1 FROM bi_views.secrets)", "Access denied"),
    (
        "SELECT count() FROM bi_offers_daily ANY LEFT JOIN (SELECT name AS journey FROM bi_views.secrets) USING journey",
        "Access denied",
    ),
    ("SELECT * FROM bi_views.bi_ratings_daily_source", "Access denied"),
    // Table functions: a request from the ClickHouse host, or a login as another user.
    ("SELECT * FROM url('http://127.0.0.1:9/', CSV, 'x String')", "Table functions are forbidden"),
    ("SELECT * FROM remote('127.0.0.1', bi_views.analysts)", "Table functions are forbidden"),
    ("SELECT * FROM numbers(10)", "Table functions are forbidden"),
    // Its own limits, per query or per session.
    ("SELECT 1 SETTINGS max_execution_time = 3600", "readonly"),
    ("SELECT 1 SETTINGS max_memory_usage = 0", "readonly"),
    ("SET readonly = 0", "readonly"),
    ("SYSTEM RELOAD DICTIONARIES", "readonly"),
    // Writes and the schema.
    ("INSERT INTO bi_offers_daily (journey, offers) VALUES ('x', 1)", "readonly"),
    ("DROP TABLE bi_ratings_daily", "readonly"),
    ("CREATE TABLE mine (x UInt8) ENGINE = Memory", "readonly"),
    ("ALTER TABLE bi_views.feedback DELETE WHERE 1", "readonly"),
];

/// Only what is named above: the BI tables, its own limits; and it still
/// reads.
async fn refuses_everything_else(bi: &Storage) {
    for (sql, word) in REFUSED {
        let error = bi.client().query(sql).execute().await.expect_err(sql).to_string();
        assert!(error.contains(word), "{sql}: {error}");
    }
    let sql = "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name";
    let names: Vec<String> = bi.client().query(sql).fetch_all().await.unwrap();
    let mut expected: Vec<&str> = touchpoint::storage::bi::VIEWS.iter().map(|v| v.name).collect();
    expected.sort();
    assert_eq!(names, expected);
    // It sees where the dictionaries load from, never as whom.
    let sql = "SELECT concat(source, last_exception) FROM system.dictionaries";
    let seen: Vec<String> = bi.client().query(sql).fetch_all().await.unwrap();
    assert_eq!(seen.len(), touchpoint::storage::bi::VIEWS.len());
    assert!(seen.iter().all(|s| !s.contains(&shared_secret("bi_source_password"))), "{seen:?}");
    let sql = "SELECT value FROM system.settings WHERE name = 'max_execution_time'";
    assert_eq!(bi.client().query(sql).fetch_one::<String>().await.unwrap(), "30");
}

/// A BI database made before issue 28 (`Distributed` tables reading as another user, which
/// passed a BI user's `IN` subqueries on) is replaced at the next start.
#[tokio::test]
async fn the_bi_database_of_distributed_tables_is_replaced_by_the_dictionaries() {
    let storage = crate::support::fresh_storage().await;
    let bi = touchpoint::storage::bi::database_of(storage.database());
    let old = [
        format!("CREATE DATABASE `{bi}`"),
        format!("CREATE TABLE `{bi}`.offers_daily (journey String) ENGINE = Memory"),
    ];
    for sql in &old {
        storage.client().query(sql).execute().await.unwrap();
    }

    let all = touchpoint::storage::migrations::Migration::embedded();
    touchpoint::storage::migrations::run(&storage, &all).await.unwrap();

    let sql = "SELECT engine FROM system.databases WHERE name = ?";
    assert_eq!(storage.client().query(sql).bind(&bi).fetch_one::<String>().await.unwrap(), "Dictionary");
    let sql = "SELECT count() FROM system.tables WHERE database = ? AND name = 'offers_daily'";
    assert_eq!(storage.client().query(sql).bind(&bi).fetch_one::<u64>().await.unwrap(), 0);
}
