//! Speed of the journey view on a large data set.
//!
//!     cargo bench --bench dashboards -- [--events 10000000] [--runs 20]
//!
//! Seeds `--events` ratings and as many timings (plus a call per 10 and a
//! letter per 200) into a local ClickHouse under target/bench-dashboards — kept
//! between runs, seeded only once — then starts the release `touchpoint serve`
//! and times, over `--runs` requests each, the whole journey page (five charts
//! included), the stats API and the `stages.svg` chart, all for 90 days.

use std::time::Instant;

use common::Service;
use common::reads::{arg, report, time};
use touchpoint::journeys::Catalog;

mod common;

fn main() {
    let events = arg("--events", 10_000_000);
    let runs = arg("--runs", 20);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let common::reads::Kept { dir, clickhouse, endpoint, storage } = common::reads::kept("bench-dashboards").await;
        let catalog = Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap();
        let journey = catalog.journey("scrap-metal-licensing").unwrap();
        let have: u64 = storage.client().query("SELECT count() FROM feedback").fetch_one().await.unwrap();
        if have < events {
            let start = Instant::now();
            let done = touchpoint::seed::seed(&storage, &catalog, journey, events - have, 89, true).await.unwrap();
            println!(
                "seeded {} ratings and {} timings in {:.0} s",
                done.feedback,
                done.timings,
                start.elapsed().as_secs_f64()
            );
        }
        let _ = storage.client().query("OPTIMIZE TABLE feedback FINAL").execute().await;
        let _ = storage.client().query("OPTIMIZE TABLE timings FINAL").execute().await;
        let rows: (u64, u64) = (
            storage.client().query("SELECT count() FROM feedback").fetch_one().await.unwrap(),
            storage.client().query("SELECT count() FROM timings").fetch_one().await.unwrap(),
        );
        let token =
            touchpoint::accounts::auth::create_token(&storage, "bench", &touchpoint::accounts::auth::Grant::analyst())
                .await
                .unwrap();

        let service = Service::start(&dir, &endpoint, "").await;
        let base = service.base.clone();
        let client = reqwest::Client::new();
        println!("{} ratings, {} timings; 2 cores shared by ClickHouse, the service and this client\n", rows.0, rows.1);
        let j = "scrap-metal-licensing";
        // One warm-up each, as an analyst's second look would be.
        for path in [format!("/dashboard/{j}?period=90"), format!("/api/v1/journeys/{j}/charts/stages.svg?period=90")] {
            time(&client, &format!("{base}{path}"), &token, 1).await;
        }
        report("journey page", &time(&client, &format!("{base}/dashboard/{j}?period=90"), &token, runs).await);
        report("stats API", &time(&client, &format!("{base}/api/v1/journeys/{j}/stats?period=90"), &token, runs).await);
        report(
            "stages.svg",
            &time(&client, &format!("{base}/api/v1/journeys/{j}/charts/stages.svg?period=90"), &token, runs).await,
        );
        report("page, 7 days", &time(&client, &format!("{base}/dashboard/{j}?period=7"), &token, runs).await);
        drop(service);
        drop(storage);
        clickhouse.stop().await.unwrap();
    });
}
