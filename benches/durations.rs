//! Speed of the stage-duration view over many clients' cases (issue 14).
//!
//!     cargo bench --bench durations -- [--cases 1000000] [--runs 30]
//!
//! Seeds `--cases` cases of the example journey into a local ClickHouse under
//! target/bench-durations (kept between runs, seeded only once): every case
//! touches all five stages, one contact each and two at the application, over
//! the last 80–380 days, so the per-case stage times hold `--cases` × 5 rows.
//! Times one rebuild of those stage times, then starts the release
//! `touchpoint serve` and times, over `--runs` requests each, the JSON view
//! for a year and for 90 days.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::Service;
use common::reads::{arg, report, time};
use touchpoint::accounts::auth::{self, Grant};
use touchpoint::journeys::Catalog;
use touchpoint::storage::Storage;
use touchpoint::storage::rows::TouchRow;
use uuid::Uuid;

mod common;

const JOURNEY: &str = "scrap-metal-licensing";
/// The example journey's stages, a touchpoint of each and the most days a
/// case spends there before its first contact at the next one.
const STAGES: [(&str, &str, u64); 5] = [
    ("information_search", "site", 10),
    ("preparation", "phone", 20),
    ("application", "epgu", 30),
    ("onsite_assessment", "inspection", 14),
    ("service_result", "email", 0),
];

/// A fixed scramble of `x` (SplitMix64): the same cases on every run.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Case `i`'s contacts: one per stage, a second one at the application.
fn touches(i: u64, now: u64) -> Vec<TouchRow> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&mix(i).to_le_bytes());
    key[8..].copy_from_slice(&i.to_le_bytes());
    let mut at = now - 80 * 86_400 - mix(i ^ 0xA5A5) % (300 * 86_400);
    let mut rows = Vec::new();
    for (k, (stage, touchpoint, days)) in STAGES.iter().enumerate() {
        let row = |at: u64, nth: u64| TouchRow {
            event_id: Uuid::from_u64_pair(i, k as u64 * 2 + nth),
            case_key: key,
            at: at as u32,
            journey: JOURNEY.into(),
            stage: (*stage).into(),
            touchpoint: (*touchpoint).into(),
            kind: 1,
        };
        rows.push(row(at, 0));
        let spent = if *days == 0 { 0 } else { mix(i * 8 + k as u64) % (days * 86_400) };
        if *stage == "application" {
            rows.push(row(at + spent / 2, 1));
        }
        at += spent;
    }
    rows
}

async fn seed(storage: &Storage, n: u64) {
    let have: u64 = storage.client().query("SELECT uniqExact(case_key) FROM case_touches").fetch_one().await.unwrap();
    if have >= n {
        return;
    }
    let start = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut insert = storage.client().insert::<TouchRow>("case_touches").await.unwrap();
    for i in have..n {
        for row in touches(i, now) {
            insert.write(&row).await.unwrap();
        }
    }
    insert.end().await.unwrap();
    let _ = storage.client().query("OPTIMIZE TABLE case_touches FINAL").execute().await;
    println!("seeded {} cases in {:.0} s", n - have, start.elapsed().as_secs_f64());
}

fn main() {
    let n = arg("--cases", 1_000_000);
    let runs = arg("--runs", 30);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let common::reads::Kept { dir, clickhouse, endpoint, storage } = common::reads::kept("bench-durations").await;
        seed(&storage, n).await;
        let catalog = Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap();
        let offset = time::UtcOffset::from_hms(3, 0, 0).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as u32;
        let build = now.max(touchpoint::dossiers::stages::latest_build(&storage).await.unwrap() + 1);
        let start = Instant::now();
        let rows = touchpoint::dossiers::stages::rebuild(&storage, &catalog, offset, build).await.unwrap();
        println!("rebuilt {rows} per-case stage times in {:.1} s", start.elapsed().as_secs_f64());
        let token = auth::create_token(&storage, "bench", &Grant::analyst()).await.unwrap();

        // The service rebuilds once at start: wait for that to pass, and not
        // again during the run.
        let service = Service::start(&dir, &endpoint, "[case_refs]\nrefresh_interval = \"1h\"\n").await;
        let base = service.base.clone();
        let client = reqwest::Client::new();
        let url = |days: u32| format!("{base}/api/v1/journeys/{JOURNEY}/stage-durations?days={days}");
        wait_for_build_after(&client, &url(365), &token, build).await;
        println!("{rows} per-case stage times; 2 cores shared by ClickHouse, the service and this client\n");
        time(&client, &url(365), &token, 1).await; // warm-up
        report("a year", &time(&client, &url(365), &token, runs).await);
        report("90 days", &time(&client, &url(90), &token, runs).await);
        drop(service);
        drop(storage);
        clickhouse.stop().await.unwrap();
    });
}

/// Waits until the view reports a build newer than `build`: the service's own.
async fn wait_for_build_after(client: &reqwest::Client, url: &str, token: &str, build: u32) {
    let ours = humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(build.into())).to_string();
    for _ in 0..600 {
        let body: serde_json::Value = client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        if body["computed_at"].as_str().is_some_and(|at| at > ours.as_str()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the service never rebuilt the stage times");
}
