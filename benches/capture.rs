//! Load benchmark of the capture endpoints over loopback.
//!
//!     cargo bench --bench capture -- [--seconds 60] [--connections 32] [--only NAME,NAME] [--sync-interval 0s]
//!
//! Starts a local ClickHouse (under target/bench-clickhouse) and the release
//! `touchpoint serve` as a child process, then runs, each for `--seconds`:
//! - `ceiling`: a bare axum handler that parses the same JSON and answers
//!   202, in a child process of its own, driven by wrk like `single`: the
//!   most this stack serves on this machine; run before and after `single`,
//!   which is compared with the mean of the two;
//! - `single`: one rating per request (wrk, 1 thread), unique event ids;
//! - `batch20`: timings arrays of 20 events per request (wrk);
//! - `paced`: 5,000 ratings/s on a fixed schedule (an open-loop reqwest
//!   client), latency measured from the scheduled send time;
//! - `cases`: four rounds of `single` interleaved with the same rating at
//!   csat 2, every one of which opens a case (and answers its follow link),
//!   and with a mix where one rating in five does: the throughput each round
//!   loses to opening cases, and every case landed.
//!
//! During `single` a probe posts one rating a second and polls ClickHouse for it:
//! the time from its 202 until it can be queried (its look-up goes through the
//! primary key, so that it costs ClickHouse little). After each run the rows
//! that landed are counted against the events the service spooled and
//! accepted (its `/metrics`; wrk's own count misses requests in flight when it
//! stops). wrk is installed when missing.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Service, free_port, spooled, wait_ready, wrk};
use touchpoint::config::EmbeddedConfig;
use touchpoint::storage::Storage;
use touchpoint::storage::embedded::EmbeddedClickHouse;
use uuid::Uuid;

mod common;

const ROLE: &str = "TOUCHPOINT_BENCH_ROLE";

struct Args {
    seconds: u64,
    connections: usize,
    only: Option<String>,
    /// `spool.sync_interval` of the service; unset: the default.
    sync_interval: Option<String>,
}

fn args() -> Args {
    let mut args = Args { seconds: 60, connections: 32, only: None, sync_interval: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => args.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--connections" => args.connections = it.next().and_then(|v| v.parse().ok()).expect("--connections N"),
            "--only" => args.only = it.next(),
            "--sync-interval" => args.sync_interval = it.next(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// The ceiling: the same stack (tokio, hyper, axum) doing nothing.
fn run_ceiling(port: u16) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let ready = axum::routing::get(|| async { axum::http::StatusCode::OK });
        let app = axum::Router::new().route("/", ready).fallback(|body: axum::body::Bytes| async move {
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(_) => axum::http::StatusCode::ACCEPTED,
                Err(_) => axum::http::StatusCode::BAD_REQUEST,
            }
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// The rating every request of `single` and `paced` posts, with `EVENT_ID` for its id.
const RATING: &str = r#"{"event_id":"EVENT_ID","site":"demo","journey":"scrap-metal-licensing","stage":"information_search","touchpoint":"site","scale":"csat","score":4,"comment":"Информацию нашёл быстро","segment":"legal_entity","locale":"ru","session_id":"bench","page_path":"/licenzirovanie/"}"#;

/// One of the 20 timings of a `batch20` request.
const TIMING: &str = r#"{"event_id":"EVENT_ID","site":"demo","journey":"scrap-metal-licensing","stage":"application","touchpoint":"epgu","duration_ms":1000,"measure":"dwell","source":"measured","session_id":"bench","page_path":"/apply"}"#;

fn rating(id: Uuid) -> Vec<u8> {
    RATING.replace("EVENT_ID", &id.to_string()).into_bytes()
}

/// A probe's rating names the second it was sent, so that its look-up reads the
/// granules of that second through the primary key: a look-up by `event_id`
/// alone reads the whole table, 50 times a second, and at a few million rows
/// took a third of a core from the service it measures.
fn probe_rating(id: Uuid, second: u64) -> Vec<u8> {
    let at = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(second));
    let rating = String::from_utf8(rating(id)).unwrap();
    format!("{},\"occurred_at\":\"{at}\"}}", rating.strip_suffix('}').unwrap()).into_bytes()
}

const PROBE_QUERY: &str = "SELECT count() FROM feedback WHERE journey = 'scrap-metal-licensing' \
    AND stage = 'information_search' AND touchpoint = 'site' AND occurred_at = toDateTime(?) AND event_id = ?";

#[derive(Default)]
struct Outcome {
    requests: u64,
    accepted: u64,
    other: u64,
    /// Of `other`: 503s (queue full, retry later).
    busy: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

impl Outcome {
    fn count(&mut self, answer: reqwest::Result<reqwest::Response>) {
        match answer.map(|r| r.status().as_u16()) {
            Ok(202) => self.accepted += 1,
            Ok(503) => {
                self.other += 1;
                self.busy += 1;
            }
            _ => self.other += 1,
        }
    }

    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Open loop at a fixed rate; latency counts from the scheduled send time.
async fn paced(url: String, connections: usize, seconds: u64, rate: u64) -> Outcome {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let start = Instant::now() + Duration::from_millis(100);
    let total = rate * seconds;
    let mut tasks = Vec::new();
    for worker in 0..connections as u64 {
        let (client, url) = (client.clone(), url.clone());
        let step = connections as u64;
        tasks.push(tokio::spawn(async move {
            let mut o = Outcome::default();
            let mut k = worker;
            while k < total {
                let due = start + Duration::from_nanos(k * 1_000_000_000 / rate);
                tokio::time::sleep_until(due.into()).await;
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(rating(Uuid::new_v4()))
                    .send()
                    .await;
                o.latencies_us.push(due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                o.requests += 1;
                o.count(r);
                k += step;
            }
            o
        }));
    }
    merge(tasks, start).await
}

async fn merge(tasks: Vec<tokio::task::JoinHandle<Outcome>>, start: Instant) -> Outcome {
    let mut all = Outcome::default();
    for t in tasks {
        let o = t.await.unwrap();
        all.requests += o.requests;
        all.accepted += o.accepted;
        all.other += o.other;
        all.busy += o.busy;
        all.latencies_us.extend(o.latencies_us);
    }
    all.elapsed = start.elapsed();
    all.latencies_us.sort_unstable();
    all
}

async fn count(storage: &Storage, table: &str) -> u64 {
    // Raw rows: a second copy of an event would show as "extra".
    storage.client().query(&format!("SELECT count() FROM {table}")).fetch_one().await.unwrap()
}

/// `table`'s row count once it holds `expected` rows and 3 s more have passed
/// (a second copy would show as extra), or once it has not grown for 30 s.
/// The last segment of a run can take a while: ClickHouse is still merging.
async fn settled(storage: &Storage, table: &str, expected: u64) -> u64 {
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let now = count(storage, table).await;
        if now >= expected {
            tokio::time::sleep(Duration::from_secs(3)).await;
            return count(storage, table).await;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_secs(30) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts one rating a second until `stop`; returns each one's time from 202 to queryable.
async fn probe(base: String, storage: Storage, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = Uuid::new_v4();
        let second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let r = client
            .post(format!("{base}/api/v1/feedback"))
            .header("content-type", "application/json")
            .body(probe_rating(id, second))
            .send()
            .await;
        if !matches!(r, Ok(ref r) if r.status() == 202) {
            continue;
        }
        let accepted = Instant::now();
        loop {
            let n: u64 =
                storage.client().query(PROBE_QUERY).bind(second).bind(id.to_string()).fetch_one().await.unwrap_or(0);
            if n > 0 {
                seen.push(accepted.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    seen
}

fn report(name: &str, o: &Outcome, events_per_request: u64) {
    println!(
        "{name:<8} {:>9} req {:>9.0} req/s {:>9.0} events/s  p50 {:>6.2} ms  p99 {:>7.2} ms  non-202 {:>6} (503: {})",
        o.requests,
        o.rps(),
        o.rps() * events_per_request as f64,
        o.pct(0.50),
        o.pct(0.99),
        o.other,
        o.busy,
    );
}

fn report_wrk(name: &str, run: &wrk::Run, events_per_request: u64) {
    println!(
        "{name:<8} {:>9} req {:>9.0} req/s {:>9.0} events/s  p50 {:>6.2} ms  p99 {:>7.2} ms  non-2xx {:>6}  socket errors {}",
        run.requests,
        run.per_second,
        run.per_second * events_per_request as f64,
        run.p50_ms,
        run.p99_ms,
        run.non_2xx,
        run.socket_errors,
    );
}

/// `single`'s requests against the bare handler, in a process of its own.
async fn bare_run(script: &std::path::Path, args: &Args) -> wrk::Run {
    let port = free_port();
    let mut bare = Command::new(std::env::current_exe().unwrap()).env(ROLE, port.to_string()).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, "/").await;
    let run = drive(format!("{base}/api/v1/feedback"), script.to_path_buf(), args.connections, args.seconds).await;
    let _ = bare.kill();
    let _ = bare.wait();
    run
}

/// wrk against `url` in a blocking thread, so that the probe keeps running.
async fn drive(url: String, script: std::path::PathBuf, connections: usize, seconds: u64) -> wrk::Run {
    tokio::task::spawn_blocking(move || wrk::run(&url, &script, connections, seconds)).await.unwrap()
}

/// `single` against the same rating at csat 2 (each opens a case) and a mix
/// where one in five does, in interleaved rounds: the machine drifts over
/// minutes, a round does not.
async fn cases_rounds(
    dir: &std::path::Path,
    server: &Service,
    storage: &Storage,
    token: &str,
    single: &std::path::Path,
    args: &Args,
) {
    let low = RATING.replace(r#""score":4"#, r#""score":2"#);
    let every = wrk::script(dir, "opens_case", &low, 1);
    let fifth = wrk::script_cycle(dir, "one_in_five", &[&low, RATING, RATING, RATING, RATING], 1);
    let (base, url) = (server.base.as_str(), format!("{}/api/v1/feedback", server.base));
    let (mut all, mut mix, mut cpu_all, mut cpu_mix) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=4 {
        let (plain, plain_cpu, ..) = opening(&url, server, storage, token, single, args).await;
        let (every_run, every_cpu, opened, landed) = opening(&url, server, storage, token, &every, args).await;
        let (fifth_run, fifth_cpu, ..) = opening(&url, server, storage, token, &fifth, args).await;
        let loss = |run: &wrk::Run| 1.0 - run.per_second / plain.per_second;
        all.push(loss(&every_run));
        mix.push(loss(&fifth_run));
        cpu_all.push(every_cpu.total() / plain_cpu.total() - 1.0);
        cpu_mix.push(fifth_cpu.total() / plain_cpu.total() - 1.0);
        let cpu = |c: Cpu| format!("{:.1}+{:.1} µs CPU/req", c.service, c.clickhouse);
        println!(
            "cases    round {round}: no case {:>6.0} req/s {}; every rating opens one {:>6.0} ({:+.1} %) {}, \
             {opened} opened, {landed} landed; one in five {:>6.0} ({:+.1} %) {}",
            plain.per_second,
            cpu(plain_cpu),
            every_run.per_second,
            -loss(&every_run) * 100.0,
            cpu(every_cpu),
            fifth_run.per_second,
            -loss(&fifth_run) * 100.0,
            cpu(fifth_cpu),
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[1] + v[2]) / 2.0 * 100.0
    };
    println!(
        "         opening cases costs {:.1} % of the throughput when every rating opens one, {:.1} % when one in five does; \
         CPU per rating (service and ClickHouse) {:+.1} % and {:+.1} % (medians of 4)",
        median(&mut all),
        median(&mut mix),
        median(&mut cpu_all),
        median(&mut cpu_mix)
    );
    let _ = base;
}

/// The CPU seconds the service and the local ClickHouse have used so far.
fn cpu_now(server: &Service) -> (f64, f64) {
    let clickhouse: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("clickhouse") && cmdline.contains("bench-clickhouse")
        })
        .map(common::cpu_seconds)
        .sum();
    (server.cpu_seconds(), clickhouse)
}

/// One run of `script`: the run, the CPU microseconds of the service and
/// ClickHouse per request until all it accepted landed, the cases it opened
/// (by the service's own count of what it spooled) and how many landed.
async fn opening(
    url: &str,
    server: &Service,
    storage: &Storage,
    token: &str,
    script: &std::path::Path,
    args: &Args,
) -> (wrk::Run, Cpu, u64, u64) {
    let base = server.base.as_str();
    let (cases_before, ratings_before) = (count(storage, "cases").await, count(storage, "feedback").await);
    let spooled_before = spooled(base, token).await;
    let cpu_before = cpu_now(server);
    let run = drive(url.to_string(), script.to_path_buf(), args.connections, args.seconds).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // requests in flight when wrk stopped
    let events = spooled(base, token).await - spooled_before;
    // Every spooled event is a rating or the case it opened: wait for all of
    // them (or 30 s without progress), then count each kind.
    let (mut last, mut since) = (0, Instant::now());
    let (ratings, cases) = loop {
        let ratings = count(storage, "feedback").await - ratings_before;
        let cases = count(storage, "cases").await - cases_before;
        if ratings + cases >= events || since.elapsed() > Duration::from_secs(30) {
            break (ratings, cases);
        }
        if ratings + cases != last {
            (last, since) = (ratings + cases, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ((service, clickhouse), (service_before, clickhouse_before)) = (cpu_now(server), cpu_before);
    let per_request = |seconds: f64| seconds / run.requests.max(1) as f64 * 1e6;
    let cpu =
        Cpu { service: per_request(service - service_before), clickhouse: per_request(clickhouse - clickhouse_before) };
    (run, cpu, events.saturating_sub(ratings), cases)
}

/// CPU microseconds per request.
#[derive(Clone, Copy)]
struct Cpu {
    service: f64,
    clickhouse: f64,
}

impl Cpu {
    fn total(self) -> f64 {
        self.service + self.clickhouse
    }
}

fn main() {
    if let Ok(port) = std::env::var(ROLE) {
        return run_ceiling(port.parse().unwrap());
    }
    let args = args();
    wrk::ensure();
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| o.split(',').any(|o| o == name));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-clickhouse");
        let _ = std::fs::remove_dir_all(&dir);
        let config = EmbeddedConfig { data_dir: dir.clone(), ..EmbeddedConfig::default() };
        let clickhouse = EmbeddedClickHouse::start(&config, "touchpoint")
            .await
            .expect("ClickHouse starts (./scripts/test.sh installs it)");
        let endpoint = clickhouse.endpoint();
        let limits = "[sites.demo]\njourneys = [\"scrap-metal-licensing\"]\n\
                      [limits]\nper_ip_burst = 1000000000\nper_ip_per_second = 1000000000\n\
                      per_site_burst = 1000000000\nper_site_per_second = 1000000000\n";
        let spool = args.sync_interval.as_ref().map(|i| format!("[spool]\nsync_interval = \"{i}\"\n"));
        let server = Service::start(&dir, &endpoint, &format!("{limits}{}", spool.unwrap_or_default())).await;
        let storage = Storage::new(&endpoint, "bench");
        let token = touchpoint::accounts::auth::create_token(&storage, "bench", &touchpoint::accounts::auth::Grant::analyst()).await.unwrap();
        let single = wrk::script(&dir, "single", RATING, 1);
        let batch = wrk::script(&dir, "batch20", TIMING, 20);
        println!(
            "{} s per run, wrk with 1 thread and {} connections; 2 cores shared by ClickHouse, the service and wrk\n",
            args.seconds, args.connections
        );

        let mut ceiling = None;
        if wants("ceiling") {
            let run = bare_run(&single, &args).await;
            report_wrk("ceiling", &run, 1);
            ceiling = Some(run.per_second);
        }
        if wants("single") {
            let before = count(&storage, "feedback").await;
            let spooled_before = spooled(&server.base, &token).await;
            let stop = Arc::new(AtomicBool::new(false));
            let probing = tokio::spawn(probe(server.base.clone(), storage.clone(), stop.clone()));
            let url = format!("{}/api/v1/feedback", server.base);
            let cpu_before = cpu_now(&server);
            let run = drive(url, single.clone(), args.connections, args.seconds).await;
            stop.store(true, Ordering::Relaxed);
            let probes = probing.await.unwrap();
            report_wrk("single", &run, 1);
            let accepted = spooled(&server.base, &token).await - spooled_before;
            let landed = settled(&storage, "feedback", before + accepted).await - before;
            let cpu_after = cpu_now(&server);
            // Until every accepted rating landed: the shipping's share too.
            println!(
                "         CPU per rating until landed: service {:.1} µs, ClickHouse {:.1} µs",
                (cpu_after.0 - cpu_before.0) * 1e6 / accepted.max(1) as f64,
                (cpu_after.1 - cpu_before.1) * 1e6 / accepted.max(1) as f64,
            );
            let worst = probes.iter().max().copied().unwrap_or_default();
            println!(
                "         events spooled {accepted} (wrk saw {} 202s, probes {}), rows landed {landed}, lost {}, extra {}; queryable after 202: max {:.2} s",
                run.accepted(),
                probes.len(),
                accepted.saturating_sub(landed),
                landed.saturating_sub(accepted),
                worst.as_secs_f64(),
            );
            // The machine's speed drifts over minutes: the ceiling is measured
            // on both sides of `single` and `single` compared with their mean.
            if let Some(first) = ceiling {
                let again = bare_run(&single, &args).await;
                report_wrk("ceiling", &again, 1);
                let mean = (first + again.per_second) / 2.0;
                println!("         single = {:.2}x the ceiling (mean of {first:.0} and {:.0} req/s)", run.per_second / mean, again.per_second);
            }
        }
        if wants("batch20") {
            let before = count(&storage, "timings").await;
            let spooled_before = spooled(&server.base, &token).await;
            let run = drive(format!("{}/api/v1/timings", server.base), batch.clone(), args.connections, args.seconds).await;
            report_wrk("batch20", &run, 20);
            tokio::time::sleep(Duration::from_millis(500)).await; // requests in flight when wrk stopped
            let accepted = spooled(&server.base, &token).await - spooled_before;
            let landed = settled(&storage, "timings", before + accepted).await - before;
            println!(
                "         events accepted {accepted} ({:.0}/s), rows landed {landed}, lost {}, extra {}",
                accepted as f64 / args.seconds as f64,
                accepted.saturating_sub(landed),
                landed.saturating_sub(accepted)
            );
        }
        if wants("cases") {
            cases_rounds(&dir, &server, &storage, &token, &single, &args).await;
        }
        if wants("paced") {
            let before = count(&storage, "feedback").await;
            let o = paced(format!("{}/api/v1/feedback", server.base), 64, args.seconds, 5000).await;
            report("paced", &o, 1);
            let landed = settled(&storage, "feedback", before + o.accepted).await - before;
            println!("         5000 req/s scheduled; rows landed {landed} of {} accepted", o.accepted);
        }
        println!("\nservice peak RSS {:.0} MB", server.peak_rss_mb());
        drop(server);
        drop(storage);
        clickhouse.stop().await.unwrap();
    });
}
