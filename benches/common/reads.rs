//! What the read benchmarks share: their `--name value` arguments and timing
//! one page or API call over several requests.

use std::time::{Duration, Instant};

/// The value of `--name` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Request times, sorted, and the size of the last answer.
pub struct Timed {
    pub times: Vec<Duration>,
    pub bytes: usize,
}

/// Requests `url` `runs` times one after another as `token`; each must answer 200.
pub async fn time(client: &reqwest::Client, url: &str, token: &str, runs: u64) -> Timed {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        bytes = response.bytes().await.unwrap().len();
        times.push(start.elapsed());
    }
    times.sort();
    Timed { times, bytes }
}

/// One line: p50, p95 and max of `timed`, with the runs and the answer's size.
pub fn report(name: &str, timed: &Timed) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let times = &timed.times;
    println!(
        "{name:<18} p50 {:>7.1} ms  p95 {:>7.1} ms  max {:>7.1} ms  ({} runs, {} KB)",
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 95 / 100).min(times.len() - 1)]),
        ms(times[times.len() - 1]),
        times.len(),
        timed.bytes / 1024
    );
}

/// A local ClickHouse kept under `target/tmp/<name>` between runs, with the
/// `bench` database migrated: the read benchmarks seed it once.
pub struct Kept {
    pub dir: std::path::PathBuf,
    pub clickhouse: touchpoint::storage::embedded::EmbeddedClickHouse,
    pub endpoint: touchpoint::storage::Endpoint,
    pub storage: touchpoint::storage::Storage,
}

pub async fn kept(name: &str) -> Kept {
    use touchpoint::storage::migrations::{self, Migration};
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let config = touchpoint::config::EmbeddedConfig { data_dir: dir.clone(), ..Default::default() };
    let clickhouse = touchpoint::storage::embedded::EmbeddedClickHouse::start(&config, "touchpoint")
        .await
        .expect("ClickHouse starts (./scripts/test.sh installs it)");
    let endpoint = clickhouse.endpoint();
    let storage = touchpoint::storage::Storage::new(&endpoint, "bench");
    storage.ensure_database().await.unwrap();
    migrations::run(&storage, &Migration::embedded()).await.unwrap();
    Kept { dir, clickhouse, endpoint, storage }
}
