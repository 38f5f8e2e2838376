//! Speed of the journey view on a large data set.
//!
//!     cargo bench --bench dashboards -- [--events 10000000] [--runs 20]
//!
//! Seeds `--events` ratings and as many timings (plus a call per 10 and a
//! letter per 200) into a local ClickHouse under target/bench-dashboards — kept
//! between runs, seeded only once — then starts the release `touchpoint serve`
//! and times, over `--runs` requests each, the whole journey page (five charts
//! and the recommendations' effects included), the stats API, the `stages.svg`
//! chart, the recommendations API and the report as a page and a PDF, all for
//! 90 days. Three recommendations are implemented 45 days back, one per kind
//! of source their effect reads: the rollup, the ratings, the timings.

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
            let done = touchpoint::seed::seed(
                &storage,
                &catalog,
                journey,
                events - have,
                touchpoint::seed::Options { days: 89, progress: true, offers: false },
            )
            .await
            .unwrap();
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
        implemented(&storage).await;
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
        let recommendations = format!("{base}/api/v1/journeys/{j}/recommendations");
        report("recommendations API", &time(&client, &recommendations, &token, runs).await);
        report("report page", &time(&client, &format!("{base}/dashboard/{j}/report"), &token, runs).await);
        report("report.pdf", &time(&client, &format!("{base}/dashboard/{j}/report.pdf"), &token, runs).await);
        let official = format!("{base}/dashboard/{j}/official?period=90");
        report("official report page", &time(&client, &official, &token, runs).await);
        let xlsx = format!("{base}/dashboard/{j}/official.xlsx?period=90");
        report("official report .xlsx", &time(&client, &xlsx, &token, runs).await);
        drop(service);
        drop(storage);
        clickhouse.stop().await.unwrap();
    });
}

/// Three recommendations implemented 45 days ago (ids fixed: stored once),
/// whose effects read the daily rollup, the ratings and the timings.
async fn implemented(storage: &touchpoint::storage::Storage) {
    use touchpoint::domain::{Aim, Measure};
    use touchpoint::recommendations::model::{Recommendation, Status};
    let store = touchpoint::recommendations::store::RecommendationStore::new(storage.clone());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let day = time::OffsetDateTime::from_unix_timestamp(i64::from(now - 45 * 86_400)).unwrap().date();
    let kinds = [
        ("application", Measure::StageScore, "", Aim::Up),
        ("information_search", Measure::TagShare, "hard_to_find", Aim::Down),
        ("information_search", Measure::TimeSpent, "", Aim::Down),
    ];
    for (k, (stage, measure, tag, aim)) in kinds.into_iter().enumerate() {
        let id = uuid::Uuid::from_u128(0xbe_0000 + k as u128);
        let mut r = Recommendation::blank(id, "bench", now);
        r.version = 1;
        (r.journey, r.stage, r.measure, r.tag, r.aim) =
            ("scrap-metal-licensing".into(), stage.into(), measure, tag.into(), aim);
        r.text.ru = format!("Рекомендация {k}");
        (r.status, r.owner_unit, r.implemented_on) = (Status::Implemented, "licensing".into(), Some(day));
        store.insert(&r).await.unwrap();
    }
}
