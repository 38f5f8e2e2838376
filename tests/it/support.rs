//! Shared test harness: one ClickHouse server per test binary, a fresh
//! database per test, and the app on a random port.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use secrecy::SecretString;
use touchpoint::Application;
use touchpoint::config::{Config, EmbeddedConfig, SiteConfig, StaffToken};

/// The service database whose BI database the shared server's read-only
/// user `bi` may read (`EmbeddedClickHouse::start`): the BI tests' own.
pub const BI_DATABASE: &str = "bi_views";

/// Every table and view the shipped migrations create, with the runner's ledger.
pub const ALL_TABLES: &[&str] = &[
    "analysts",
    "answers",
    "answers_daily",
    "answers_daily_mv",
    "api_tokens",
    "calls",
    "calls_daily",
    "calls_daily_mv",
    "case_changes",
    "case_proofs",
    "case_stage_builds",
    "case_stage_times",
    "case_touches",
    "cases",
    "claims",
    "correspondence",
    "deliveries",
    "event_claims",
    "feedback",
    "feedback_comments",
    "feedback_comments_mv",
    "feedback_corrections",
    "feedback_corrections_mv",
    "feedback_daily",
    "feedback_daily_mv",
    "follow_contacts",
    "handling_ratings",
    "offers",
    "offers_daily",
    "offers_daily_mv",
    "recommendations",
    "register_changes",
    "register_publications",
    "register_versions",
    "schema_migrations",
    "secrets",
    "stage_time_daily",
    "stage_time_from_feedback_mv",
    "stage_time_from_timings_mv",
    "timings",
];

/// The tables of a migrated service database: [`ALL_TABLES`] and the BI
/// dictionaries' source views (storage::bi, made after the migrations).
pub fn service_tables() -> Vec<String> {
    let sources = touchpoint::storage::bi::VIEWS.iter().map(touchpoint::storage::bi::source_of);
    let mut all: Vec<String> = ALL_TABLES.iter().map(|t| t.to_string()).chain(sources).collect();
    all.sort();
    all
}

/// The staff token `test_config` configures.
pub const STAFF_TOKEN: &str = "test-staff-token-0123456789";
use touchpoint::storage::Endpoint;
use touchpoint::storage::Storage;
use touchpoint::storage::embedded::EmbeddedClickHouse;

/// Set to test against a server of your own (e.g. a current ClickHouse release)
/// instead of the one the tests start.
pub const URL_VAR: &str = "TOUCHPOINT_TEST_CLICKHOUSE_URL";

/// The password of every account the tests make.
pub const PASSWORD: &str = "correct horse battery staple";

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A folder for a test's own files, under target/ and unique to the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Segment files in a spool folder (not its LOCK).
pub fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
    files.filter(|p| p.extension().is_some_and(|e| e == "seg" || e == "open")).collect()
}

/// The ClickHouse all tests of this binary share.
pub fn server() -> &'static Endpoint {
    static SERVER: OnceLock<Endpoint> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var(URL_VAR) {
        Ok(url) => Endpoint {
            url: url.parse().expect("TOUCHPOINT_TEST_CLICKHOUSE_URL is a URL"),
            user: std::env::var("TOUCHPOINT_TEST_CLICKHOUSE_USER").unwrap_or_else(|_| "default".into()),
            password: SecretString::from(std::env::var("TOUCHPOINT_TEST_CLICKHOUSE_PASSWORD").unwrap_or_default()),
        },
        Err(_) => start_shared_server(),
    })
}

/// Starts the product's own local server on a thread that lives as long as the
/// test process: the server gets its parent-death signal when the process ends.
fn start_shared_server() -> Endpoint {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = scratch("clickhouse");
        // Every query is logged, for tests/chdb_replay.py to run on current ClickHouse after the suite.
        std::fs::create_dir_all(dir.join("users.d")).unwrap();
        let profile = "<yandex><profiles><default><log_queries>1</log_queries></default></profiles></yandex>";
        std::fs::write(dir.join("users.d/log_queries.xml"), profile).unwrap();
        std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-clickhouse"), dir.to_str().unwrap())
            .unwrap();
        let config = embedded_config(&dir);
        let server = runtime.block_on(EmbeddedClickHouse::start(&config, BI_DATABASE));
        match server {
            Ok(server) => {
                tx.send(Ok(server.endpoint())).unwrap();
                // Keep the server (and this thread) alive until the process exits.
                loop {
                    std::thread::park();
                }
            }
            Err(e) => tx.send(Err(e.to_string())).unwrap(),
        }
    });
    match rx.recv().unwrap() {
        Ok(endpoint) => endpoint,
        Err(e) => panic!("cannot start ClickHouse for the tests: {e}\n(./scripts/test.sh installs it)"),
    }
}

pub fn embedded_config(dir: &Path) -> EmbeddedConfig {
    EmbeddedConfig { data_dir: dir.to_path_buf(), ..EmbeddedConfig::default() }
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A time `secs` before now, whole seconds: as seconds since the epoch and as
/// RFC 3339. Tests never hold a literal date the service judges against its
/// clock, so the suite passes on any day.
pub fn ago(secs: u64) -> (u32, String) {
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    let unix = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    (unix as u32, humantime::format_rfc3339_seconds(t).to_string())
}

pub fn unique_database() -> String {
    format!("test_{}", uuid::Uuid::new_v4().simple())
}

/// A config for a test: random port, the shipped journeys, a database of its own.
pub fn test_config() -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        dashboards_dir: repo().join("dashboards"),
        ..Config::default()
    };
    config.clickhouse.url = Some(server().url.clone());
    config.clickhouse.user = server().user.clone();
    config.clickhouse.password = server().password.clone();
    config.clickhouse.database = unique_database();
    config.sites.insert(
        "demo".into(),
        SiteConfig {
            journeys: vec!["scrap-metal-licensing".into()],
            origins: vec!["http://localhost".parse().unwrap(), "http://127.0.0.1".parse().unwrap()],
        },
    );
    config.staff_tokens.push(StaffToken { name: "tests".into(), token: SecretString::from(STAFF_TOKEN) });
    config.email.secret = Some(SecretString::from("a-test-signing-key-of-32-characters!"));
    // Set, as the link key is: a key the service must make itself costs a
    // start a wait for other instances (tests/it/secrets.rs covers that).
    config.dashboards.session_secret = Some(SecretString::from("a-test-session-key-of-32-characters!"));
    // Short flushes keep the tests quick; production defaults to 1 s.
    config.capture.flush_period = std::time::Duration::from_millis(200);
    config.spool.dir = scratch("spool");
    // Segments are preallocated at 1/16 of the cap: 1 MiB files, not 8 MiB, per test.
    config.spool.max_bytes = 16 << 20;
    config
}

/// Storage on a fresh database of the shared server, created and empty.
pub async fn fresh_storage() -> Storage {
    let storage = Storage::new(server(), &unique_database());
    storage.ensure_database().await.unwrap();
    storage
}

pub struct TestApp {
    pub address: String,
    pub storage: Storage,
    pub http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.address)).send().await.expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.address)).json(body).send().await.expect("request sent")
    }

    /// Posts and returns the status and the JSON body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.post_json(path, body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Stores `rows` in `feedback` as one INSERT, as the spool's shipper would.
    pub async fn insert_feedback(&self, rows: &[touchpoint::storage::rows::FeedbackRow]) {
        insert_rows(&self.storage, "feedback", rows).await;
    }

    /// Posts JSON with an API token; the status and the JSON body (null when none).
    pub async fn post_as(&self, token: &str, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.http.post(format!("{}{path}", self.address)).bearer_auth(token).json(body).send().await;
        let response = response.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Reads with an API token; the status and the JSON body (null when none).
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(format!("{}{path}", self.address)).bearer_auth(token).send().await;
        let response = response.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Reads a page or a download with an API token: its text, whatever the status.
    pub async fn text_as(&self, token: &str, path: &str) -> String {
        let response = self.http.get(format!("{}{path}", self.address)).bearer_auth(token).send().await;
        response.expect("request sent").text().await.expect("a text body")
    }

    /// The dashboards' stats of the example journey, read with an API token.
    pub async fn stats(&self, token: &str, query: &str) -> serde_json::Value {
        self.http
            .get(format!("{}/api/v1/journeys/scrap-metal-licensing/stats?{query}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Posts with the staff token.
    pub async fn post_staff(&self, path: &str, body: &serde_json::Value) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.address))
            .bearer_auth(STAFF_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Stops the app the way SIGTERM does and waits until it has flushed.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.running.await.expect("the app task ends").expect("the app ends cleanly");
    }
}

/// Stores `rows` in `table` as one INSERT: one block.
pub async fn insert_rows<T: clickhouse::RowOwned + clickhouse::RowWrite>(storage: &Storage, table: &str, rows: &[T]) {
    let mut insert = storage.client().insert::<T>(table).await.unwrap();
    for row in rows {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
}

/// Waits until `table` holds `n` rows (deduplicated), or 10 s; returns the count.
pub async fn wait_for_rows(storage: &Storage, table: &str, n: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let count = count_rows(storage, table).await;
        if count >= n || std::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits up to 10 s for `done` to hold: for what the shipper stores within
/// a round (the flush period and the claims' settling, `event_claims`).
pub async fn until_stored(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until `table` holds `n` rows and its rollup counts them too, or 10 s;
/// returns what the rollup counts. ClickHouse makes an INSERT's rows visible
/// before its materialized views have written the rollup, so a test reading
/// figures (dashboards, reports, BI views) waits for the rollup itself.
pub async fn wait_for_rolled_up(storage: &Storage, table: &str, n: u64) -> u64 {
    let rolled = match table {
        "feedback" => "SELECT toInt64(sum(n)) FROM feedback_daily",
        "answers" => "SELECT toInt64(sum(responses)) FROM answers_daily",
        "offers" => "SELECT toInt64(sum(n)) FROM offers_daily",
        "calls" => "SELECT toInt64(sum(n)) FROM calls_daily",
        // Task timings share their rollup with the durations clients report.
        "timings" => {
            "SELECT toInt64(countMerge(n)) - (SELECT toInt64(count()) FROM feedback FINAL \
             WHERE isNotNull(reported_duration_ms)) FROM stage_time_daily"
        }
        other => panic!("no rollup known for {other}"),
    };
    wait_for_rows(storage, table, n).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let count: i64 = storage.client().query(rolled).fetch_one().await.unwrap();
        if count >= n as i64 || std::time::Instant::now() >= deadline {
            return count.max(0) as u64;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Rows of a table, deduplicated as the dashboards count them.
pub async fn count_rows(storage: &Storage, table: &str) -> u64 {
    storage.client().query(&format!("SELECT count() FROM {table} FINAL")).fetch_one().await.unwrap()
}

/// The app with a mean shown from `min_answers` answers (the default asks
/// for five), so a test needs fewer events.
pub async fn spawn_app_with_min_answers(min_answers: u64) -> TestApp {
    let mut config = test_config();
    config.dashboards.min_answers = min_answers;
    spawn_app_with(config).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    init_logs();
    let endpoint = Endpoint {
        url: config.clickhouse.url.clone().expect("tests name their server"),
        user: config.clickhouse.user.clone(),
        password: config.clickhouse.password.clone(),
    };
    let storage = Storage::new(&endpoint, &config.clickhouse.database);
    let app = Application::build(&config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp { address, storage, http: reqwest::Client::new(), stop, running }
}

/// Logs `name` in with [`PASSWORD`]: the session cookie (`tp_session=…`),
/// or `None` when the login is refused. Every session cookie is
/// `HttpOnly` and `SameSite=Lax`.
pub async fn try_session_of(app: &TestApp, name: &str) -> Option<String> {
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("name", name), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    if response.status() != 303 {
        return None;
    }
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    Some(cookie.split(';').next().unwrap().to_string())
}

/// Logs `name` in with [`PASSWORD`]; the session cookie (`tp_session=…`).
pub async fn session_of(app: &TestApp, name: &str) -> String {
    try_session_of(app, name).await.unwrap_or_else(|| panic!("{name} logs in"))
}

/// A fresh account `name` with `grant`, signed in: its session cookie.
pub async fn sign_in_as(app: &TestApp, name: &str, grant: &touchpoint::accounts::auth::Grant) -> String {
    touchpoint::accounts::auth::add_user(&app.storage, name, PASSWORD, grant).await.unwrap();
    session_of(app, name).await
}

/// Logs stay quiet unless `TEST_LOG` is set.
pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        touchpoint::telemetry::init(&Default::default());
    }
}

/// Names of the tables in a database.
pub async fn tables(storage: &Storage) -> Vec<String> {
    storage
        .client()
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .fetch_all::<String>()
        .await
        .unwrap()
}

/// Spool options in `dir` as the service derives them from `test_config`.
pub fn spool_options(dir: &Path) -> touchpoint::storage::spool::SpoolOptions {
    let mut config = test_config();
    config.spool.dir = dir.to_path_buf();
    touchpoint::startup::spool_options(&config)
}

/// A new API token of `role` (with `units` for a handler), named uniquely.
pub async fn api_token(storage: &Storage, role: touchpoint::domain::Role, units: &[&str]) -> String {
    let grant = touchpoint::accounts::auth::Grant { role, units: units.iter().map(|u| u.to_string()).collect() };
    let name = format!("t-{}", uuid::Uuid::new_v4().simple());
    touchpoint::accounts::auth::create_token(storage, &name, &grant).await.unwrap()
}

/// A new analyst's API token.
pub async fn analyst_token(storage: &Storage) -> String {
    api_token(storage, touchpoint::domain::Role::Analyst, &[]).await
}

/// A copy of the shipped catalog, whose units the tests name: `application`
/// is the licensing unit's, the other stages the journey's default
/// `general`. A copy: some tests change its files (the calendar).
pub fn catalog_with_units() -> PathBuf {
    let dir = scratch("units");
    std::fs::create_dir_all(dir.join("journeys")).unwrap();
    for file in ["register.toml", "calendar.toml", "journeys/scrap-metal-licensing.toml"] {
        std::fs::copy(repo().join("dashboards").join(file), dir.join(file)).unwrap();
    }
    dir
}

/// Stores `cases` as the service's spool would (a test's cases of a given age).
pub async fn insert_cases<'a>(
    storage: &Storage,
    cases: impl IntoIterator<Item = &'a touchpoint::storage::rows::CaseRow>,
) {
    let mut insert = storage.client().insert::<touchpoint::storage::rows::CaseRow>("cases").await.unwrap();
    for case in cases {
        insert.write(case).await.unwrap();
    }
    insert.end().await.unwrap();
}

/// The config of an SMTP server on this host's `port`, plain, no login.
pub fn smtp_config(port: u16) -> touchpoint::config::notify::SmtpConfig {
    touchpoint::config::notify::SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: touchpoint::config::notify::SmtpSecurity::None,
        username: None,
        password: None,
        from: "Touchpoint <touchpoint@ministry.example>".into(),
        timeout: std::time::Duration::from_secs(5),
        ca_file: None,
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A letter as the SMTP sink received it, headers and body decoded.
#[derive(Debug, Clone)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

/// A real SMTP server (PyPI's aiosmtpd) that stores each letter it accepts in
/// a maildir; stopped when dropped.
pub struct SmtpSink {
    pub maildir: PathBuf,
    child: std::process::Child,
}

impl SmtpSink {
    /// Starts a server on `port` storing into `maildir` (created if missing,
    /// else a maildir already), and waits until it answers.
    pub async fn start(port: u16, maildir: &Path) -> SmtpSink {
        SmtpSink::start_with(port, maildir, &[]).await
    }

    /// As [`SmtpSink::start`], with more of aiosmtpd's options (`--tlscert`, `--smtpscert` ...).
    pub async fn start_with(port: u16, maildir: &Path, options: &[&str]) -> SmtpSink {
        let mut command = std::process::Command::new("python3");
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        command.args(options).args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(maildir);
        SmtpSink::spawn(command, port, maildir).await
    }

    /// A server that takes letters only after STARTTLS (with `cert` and
    /// `key`) and an SMTP AUTH login as `username` with `password`
    /// (`tests/smtp_auth_sink.py`, aiosmtpd with an authenticator).
    pub async fn start_authenticating(port: u16, maildir: &Path, tls: [&Path; 2], login: [&str; 2]) -> SmtpSink {
        let mut command = std::process::Command::new("python3");
        command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_auth_sink.py"));
        command.arg(port.to_string()).arg(maildir).args(tls).args(login);
        SmtpSink::spawn(command, port, maildir).await
    }

    /// A server that refuses every recipient with a 550 quoting the address
    /// (`tests/smtp_refusing_sink.py`).
    pub async fn start_refusing(port: u16, maildir: &Path) -> SmtpSink {
        let mut command = std::process::Command::new("python3");
        command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_refusing_sink.py"));
        command.arg(port.to_string()).arg(maildir);
        SmtpSink::spawn(command, port, maildir).await
    }

    async fn spawn(mut command: std::process::Command, port: u16, maildir: &Path) -> SmtpSink {
        let child = command
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs aiosmtpd (./scripts/test.sh installs it from PyPI)");
        let sink = SmtpSink { maildir: maildir.to_path_buf(), child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        sink
    }

    /// Every letter received so far, decoded.
    pub fn letters(&self) -> Vec<Letter> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        let mut letters: Vec<Letter> = entries
            .map(|e| {
                let raw = std::fs::read(e.unwrap().path()).unwrap();
                let mail = mailparse::parse_mail(&raw).unwrap();
                let header = |name: &str| {
                    use mailparse::MailHeaderMap as _;
                    mail.headers.get_first_value(name).unwrap_or_default()
                };
                Letter {
                    to: header("To"),
                    subject: header("Subject"),
                    message_id: header("Message-ID"),
                    body: mail.get_body().unwrap(),
                }
            })
            .collect();
        letters.sort_by(|a, b| a.subject.cmp(&b.subject));
        letters
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
