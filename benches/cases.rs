//! Speed of the case queue with many cases behind it.
//!
//!     cargo bench --bench cases -- [--cases 100000] [--runs 20]
//!
//! Seeds `--cases` cases over the last 60 days into a local ClickHouse under
//! target/bench-cases (kept between runs, seeded only once), each with the
//! rating that opened it, six in ten acknowledged, four answered and one in
//! four of those closed; then starts the release `touchpoint serve` and
//! times, over `--runs` requests each, as a handler of every unit: the queue
//! page, its overdue filter, a later page, the JSON API and one case's page.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::Service;
use common::reads::{arg, report, time};
use touchpoint::accounts::auth::{self, Grant};
use touchpoint::cases::ChangeRow;
use touchpoint::domain::Role;
use touchpoint::storage::Storage;
use touchpoint::storage::rows::{CaseRow, FeedbackRow};
use uuid::Uuid;

mod common;

const UNITS: [&str; 5] = ["licensing", "general", "permits", "appeals", "registry"];
const STAGES: [(&str, &str); 3] =
    [("application", "epgu"), ("information_search", "site"), ("service_result", "email")];

/// Case `i` of `n`, opened `i`'s share of 60 days ago, with its rating and log.
fn case(i: u64, n: u64, now: u32) -> (CaseRow, FeedbackRow, Vec<ChangeRow>) {
    let opened = now - (i * 60 * 86_400 / n) as u32;
    let id = Uuid::new_v4();
    let (stage, touchpoint) = STAGES[(i % 3) as usize];
    let case = CaseRow {
        event_id: id,
        opened_at: opened,
        journey: "scrap-metal-licensing".into(),
        stage: stage.into(),
        touchpoint: touchpoint.into(),
        unit: UNITS[(i % 5) as usize].into(),
        reason: "low_score".into(),
        acknowledge_by: opened + 86_400,
        answer_by: opened + 7 * 86_400,
    };
    let rating = FeedbackRow {
        event_id: id,
        occurred_at: opened,
        received_at: opened,
        site: "demo".into(),
        journey: "scrap-metal-licensing".into(),
        stage: stage.into(),
        touchpoint: touchpoint.into(),
        channel: "web".into(),
        segment: 0,
        scale: 1,
        score: 1,
        emotion: -1,
        comment: "Форма не отправляется".into(),
        tags: vec![],
        reported_duration_ms: None,
        locale: "ru".into(),
        session_id: String::new(),
        page_path: String::new(),
        case_ref: String::new(),
    };
    let mut log = Vec::new();
    let step = |seq: u32, after: u32, action: &str, text: &str, resolution: &str| ChangeRow {
        case_id: id,
        change_id: Uuid::new_v4(),
        seq,
        at: opened + after,
        by: "bench".into(),
        action: action.into(),
        text: text.into(),
        resolution: resolution.into(),
    };
    if i % 10 < 6 {
        log.push(step(0, 3600, "acknowledge", "", ""));
    }
    if i % 10 < 4 {
        log.push(step(1, 2 * 86_400, "answer", "Исправили форму.", ""));
        if i.is_multiple_of(4) {
            log.push(step(2, 3 * 86_400, "close", "", "resolved"));
        }
    }
    (case, rating, log)
}

async fn seed(storage: &Storage, n: u64) {
    let have: u64 = storage.client().query("SELECT count() FROM cases").fetch_one().await.unwrap();
    if have >= n {
        return;
    }
    let start = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as u32;
    let mut cases = storage.client().insert::<CaseRow>("cases").await.unwrap();
    let mut ratings = storage.client().insert::<FeedbackRow>("feedback").await.unwrap();
    let mut changes = storage.client().insert::<ChangeRow>("case_changes").await.unwrap();
    for i in have..n {
        let (case, rating, log) = case(i, n, now);
        cases.write(&case).await.unwrap();
        ratings.write(&rating).await.unwrap();
        for change in &log {
            changes.write(change).await.unwrap();
        }
    }
    cases.end().await.unwrap();
    ratings.end().await.unwrap();
    changes.end().await.unwrap();
    for table in ["cases", "feedback", "case_changes"] {
        let _ = storage.client().query(&format!("OPTIMIZE TABLE {table} FINAL")).execute().await;
    }
    println!("seeded {} cases in {:.0} s", n - have, start.elapsed().as_secs_f64());
}

fn main() {
    let n = arg("--cases", 100_000);
    let runs = arg("--runs", 20);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let common::reads::Kept { dir, clickhouse, endpoint, storage } = common::reads::kept("bench-cases").await;
        seed(&storage, n).await;
        let units = UNITS.iter().map(|u| u.to_string()).collect();
        let token = auth::create_token(&storage, "bench", &Grant { role: Role::Handler, units }).await.unwrap();
        let one: String = storage
            .client()
            .query("SELECT toString(event_id) FROM cases ORDER BY opened_at DESC LIMIT 1")
            .fetch_one()
            .await
            .unwrap();
        let total: u64 = storage.client().query("SELECT count() FROM cases").fetch_one().await.unwrap();

        let service = Service::start(&dir, &endpoint, "").await;
        let base = service.base.clone();
        let client = reqwest::Client::new();
        println!("{total} cases of 5 units; a handler of all five; 2 cores shared by ClickHouse, the service and this client\n");
        time(&client, &format!("{base}/cases"), &token, 1).await; // warm-up
        for (name, path) in [
            ("queue page", "/cases".to_string()),
            ("overdue filter", "/cases?overdue=1".to_string()),
            ("page 40 of all", "/cases?status=all&page=40".to_string()),
            ("API, 100 cases", "/api/v1/cases?limit=100".to_string()),
            ("one case page", format!("/cases/{one}")),
        ] {
            report(name, &time(&client, &format!("{base}{path}"), &token, runs).await);
        }
        drop(service);
        drop(storage);
        clickhouse.stop().await.unwrap();
    });
}
