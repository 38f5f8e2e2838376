//! What the benchmarks need: a free port, the release binary started against a
//! given ClickHouse, and a wait until it is ready.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use touchpoint::storage::Endpoint;

#[allow(dead_code)] // the capture benchmark drives wrk; the read benchmarks do not
pub mod wrk;

#[allow(dead_code)] // the read benchmarks time pages; the capture one does not
pub mod reads;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `base` + `path` answers 2xx, for a minute at most.
pub async fn wait_ready(base: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{base}{path}")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

/// The binary under test: this checkout's release build, or another one
/// named by `BENCH_TOUCHPOINT_BIN` (to compare two commits on the same run).
fn binary() -> String {
    std::env::var("BENCH_TOUCHPOINT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_touchpoint").to_string())
}

/// The release `touchpoint serve`, stopped with SIGTERM when dropped.
pub struct Service {
    child: Child,
    pub base: String,
}

impl Service {
    /// Writes a config in `dir` (database `bench` on `clickhouse`, logs at
    /// warn, plus `extra` TOML) and starts the binary; returns once it is ready.
    pub async fn start(dir: &Path, clickhouse: &Endpoint, extra: &str) -> Service {
        let port = free_port();
        let config = dir.join("touchpoint.toml");
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndashboards_dir = \"{}\"\n[log]\nfilter = \"warn\"\n\
             [clickhouse]\nurl = \"{}\"\ndatabase = \"bench\"\npassword = \"{}\"\n{extra}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards"),
            clickhouse.url,
            clickhouse.password.expose_secret()
        );
        std::fs::write(&config, text).unwrap();
        // Relative defaults (the spool's `data/spool`) land in `dir/service`.
        let cwd = dir.join("service");
        std::fs::create_dir_all(&cwd).unwrap();
        let child = Command::new(binary())
            .current_dir(&cwd)
            .envs(std::env::var("BENCH_SERVICE_WORKERS").map(|n| ("TOKIO_WORKER_THREADS", n)))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let service = Service { child, base: format!("http://127.0.0.1:{port}") };
        wait_ready(&service.base, "/readyz").await;
        service
    }

    /// CPU seconds the service has used so far (user and system).
    #[allow(dead_code)] // one benchmark reports it
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }

    /// The service's peak resident memory so far, in MB.
    #[allow(dead_code)] // one benchmark reports it
    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// CPU seconds process `pid` has used so far (user and system), from /proc.
#[allow(dead_code)] // one benchmark reports it
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces, in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the
    // name; /proc counts them in USER_HZ, 100 a second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Events the service wrote to its spool and answered 202 for, by its own
/// `/metrics`: wrk stops with requests in flight that the service may still
/// store, so wrk's count of 202s can fall short of the rows by up to one per
/// connection.
#[allow(dead_code)] // the capture and cluster benchmarks read it
pub async fn spooled(base: &str, token: &str) -> u64 {
    let text = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("touchpoint_events_spooled_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("/metrics counts spooled events")
}
