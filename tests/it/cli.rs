//! The `touchpoint` binary as a person runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use touchpoint::storage::{Endpoint, Storage};

use touchpoint::storage::embedded::EmbeddedClickHouse;

use crate::support::{count_rows, embedded_config, free_port, repo, scratch, tables};

fn touchpoint(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    command.args(args).current_dir(repo());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TOUCHPOINT_") || n == "RUST_LOG") {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    touchpoint(args, env).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_passes_on_the_shipped_files() {
    let output = run(&["check"], &[]);

    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("scrap-metal-licensing (5 stages)"), "{stdout}");
}

#[test]
fn check_fails_naming_file_entry_and_field() {
    let dir = scratch("check");
    std::fs::create_dir_all(dir.join("journeys")).unwrap();
    std::fs::copy(repo().join("dashboards/register.toml"), dir.join("register.toml")).unwrap();
    std::fs::write(
        dir.join("journeys/tiny.toml"),
        "id = \"tiny\"\nname = { ru = \"Путь\", en = \"Path\" }\n\n[[stages]]\nid = \"only\"\n\
         name = { ru = \"Этап\", en = \"Stage\" }\ngoal = { ru = \"Цель\", en = \"Goal\" }\n\
         touchpoints = [\"pigeon\"]\nemotion = \"neutral\"\n",
    )
    .unwrap();

    let output = run(&["check"], &[("TOUCHPOINT_DASHBOARDS_DIR", dir.to_str().unwrap())]);

    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("journeys/tiny.toml: stages[0] \"only\": field `touchpoints`: unknown touchpoint \"pigeon\""),
        "{err}"
    );
}

#[test]
fn a_bad_environment_value_names_its_key() {
    let output = run(&["check"], &[("TOUCHPOINT_LISTEN", "everywhere")]);

    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("config key `listen (TOUCHPOINT_LISTEN)`"), "{}", stderr(&output));
}

#[test]
fn an_unknown_key_in_the_config_file_is_named() {
    let file = scratch("config").join("touchpoint.toml");
    std::fs::write(&file, "[clickhouse]\ndatabse = \"x\"\n").unwrap();

    let output = run(&["check", "--config", file.to_str().unwrap()], &[]);

    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("touchpoint.toml") && err.contains("databse"), "{err}");
}

#[test]
fn serve_without_a_clickhouse_binary_says_how_to_get_one() {
    let output = run(
        &["serve"],
        &[("TOUCHPOINT_CLICKHOUSE_BINARY", "/nonexistent/clickhouse-server"), ("TOUCHPOINT_LISTEN", "127.0.0.1:0")],
    );

    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("/nonexistent/clickhouse-server") && err.contains("TOUCHPOINT_CLICKHOUSE_URL"), "{err}");
}

/// The local server the binary started, read from its data folder.
fn local_server(data: &Path) -> Endpoint {
    let ports = std::fs::read_to_string(data.join("ports")).unwrap();
    let http: u16 = ports.split_whitespace().next().unwrap().parse().unwrap();
    Endpoint {
        url: format!("http://127.0.0.1:{http}").parse().unwrap(),
        user: "default".into(),
        password: SecretString::from(std::fs::read_to_string(data.join("password")).unwrap()),
    }
}

/// A config for the binary: site `demo`, no rate limit in the way, and a flush
/// period longer than the test so that only the shutdown flush writes.
fn serve_config(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("touchpoint.toml");
    std::fs::write(
        &file,
        "[sites.demo]\njourneys = [\"scrap-metal-licensing\"]\n\
         [capture]\nflush_period = \"1h\"\n\
         [limits]\nper_ip_burst = 100000\nper_site_burst = 100000\n",
    )
    .unwrap();
    file
}

#[tokio::test]
async fn serve_starts_its_own_clickhouse_and_on_sigterm_flushes_every_event_then_stops_it() {
    let data = scratch("serve");
    let port = free_port();
    let config = serve_config(&data);
    let mut child = touchpoint(
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("TOUCHPOINT_LISTEN", &format!("127.0.0.1:{port}")),
            ("TOUCHPOINT_CLICKHOUSE_DATA_DIR", data.to_str().unwrap()),
            ("TOUCHPOINT_SPOOL_DIR", data.join("spool").to_str().unwrap()),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match reqwest::get(format!("{base}/readyz")).await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline && child.try_wait().unwrap().is_none() => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => panic!("serve never became ready: {}", stderr(&child.wait_with_output().unwrap())),
        }
    }
    let journey: serde_json::Value =
        reqwest::get(format!("{base}/api/v1/journeys/scrap-metal-licensing")).await.unwrap().json().await.unwrap();
    assert_eq!(journey["stages"].as_array().unwrap().len(), 5);
    let storage = Storage::new(&local_server(&data), "touchpoint");
    for table in ["calls", "correspondence", "feedback", "timings"] {
        assert!(tables(&storage).await.contains(&table.to_string()), "{table}");
    }
    let http = reqwest::Client::new();
    let n = 200;
    for _ in 0..n {
        let rating = serde_json::json!({
            "event_id": uuid::Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
            "stage": "application", "touchpoint": "epgu", "scale": "thumbs", "score": 1
        });
        let status = http.post(format!("{base}/api/v1/feedback")).json(&rating).send().await.unwrap().status();
        assert_eq!(status, 202);
    }
    drop(storage);

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve ignored SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    let url = local_server(&data).url;
    assert!(
        std::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).is_err(),
        "the local ClickHouse outlived the service"
    );

    // Start the same local server again: every accepted event is there.
    let server = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();
    let storage = Storage::new(&server.endpoint(), "touchpoint");
    assert_eq!(count_rows(&storage, "feedback").await, n);
    let mut left: Vec<_> = std::fs::read_dir(data.join("spool")).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["LOCK", "instance"], "the spool was drained (its lock and its claimant id stay)");
    drop(storage);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn analysts_and_tokens_are_made_from_the_command_line() {
    let storage = crate::support::fresh_storage().await;
    let server = crate::support::server();
    let env =
        [("TOUCHPOINT_CLICKHOUSE_URL", server.url.as_str()), ("TOUCHPOINT_CLICKHOUSE_DATABASE", storage.database())];
    let password = secrecy::ExposeSecret::expose_secret(&server.password).to_string();
    let mut env = env.to_vec();
    env.push(("TOUCHPOINT_CLICKHOUSE_PASSWORD", &password));

    let mut add = touchpoint(&["user", "add", "olga"], &env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), b"a long enough password\n").unwrap();
    let added = add.wait_with_output().unwrap();
    let token = run(&["token", "create", "weekly-report"], &env);
    let short = {
        let mut c = touchpoint(&["user", "add", "ivan"], &env)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(c.stdin.as_mut().unwrap(), b"short\n").unwrap();
        c.wait_with_output().unwrap()
    };

    assert!(added.status.success(), "{}", stderr(&added));
    assert!(token.status.success(), "{}", stderr(&token));
    let printed = String::from_utf8_lossy(&token.stdout);
    assert_eq!(printed.lines().count(), 1, "stdout holds the token alone, logs go to stderr: {printed}");
    let last = printed.lines().last().unwrap();
    assert!(last.starts_with("tp_") && last.len() > 40, "{printed}");
    let stored: Vec<String> = storage.client().query("SELECT token_hash FROM api_tokens").fetch_all().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], last, "only the hash is stored");
    let hash: String =
        storage.client().query("SELECT password_hash FROM analysts WHERE name = 'olga'").fetch_one().await.unwrap();
    assert!(hash.starts_with("$argon2"), "{hash}");
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("12 characters"));

    // Roles and units; a handler needs a unit; disabling and revoking.
    let crm = run(&["token", "create", "crm", "--role", "handler", "--unit", "licensing"], &env);
    assert!(crm.status.success(), "{}", stderr(&crm));
    let unitless = run(&["token", "create", "crm2", "--role", "handler"], &env);
    assert!(!unitless.status.success() && stderr(&unitless).contains("--unit"), "{}", stderr(&unitless));
    let bad_role = run(&["token", "create", "x", "--role", "root"], &env);
    assert!(!bad_role.status.success() && stderr(&bad_role).contains("analyst, handler, admin, editor, approver"));
    let revoked = run(&["token", "revoke", "weekly-report"], &env);
    assert!(String::from_utf8_lossy(&revoked.stdout).contains("1 token(s)"), "{}", stderr(&revoked));
    let disabled = run(&["user", "disable", "olga"], &env);
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    let nobody = run(&["user", "disable", "nobody"], &env);
    assert!(!nobody.status.success() && stderr(&nobody).contains("no account"), "{}", stderr(&nobody));
    let live: u64 = storage
        .client()
        .query(
            "SELECT count() FROM api_tokens FINAL WHERE revoked = 0 AND role = 'handler' AND has(units, 'licensing')",
        )
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(live, 1, "the handler's token stands; the revoked analyst's does not");
    let enabled: u64 =
        storage.client().query("SELECT count() FROM analysts FINAL WHERE disabled = 0").fetch_one().await.unwrap();
    assert_eq!(enabled, 0);
}

#[tokio::test]
async fn the_local_clickhouse_does_not_outlive_a_killed_service() {
    let data = scratch("kill9");
    let port = free_port();
    let mut child = touchpoint(
        &["serve"],
        &[
            ("TOUCHPOINT_LISTEN", &format!("127.0.0.1:{port}")),
            ("TOUCHPOINT_CLICKHOUSE_DATA_DIR", data.to_str().unwrap()),
            ("TOUCHPOINT_SPOOL_DIR", data.join("spool").to_str().unwrap()),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline && child.try_wait().unwrap().is_none(), "serve never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let url = local_server(&data).url;
    let answers = || std::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).is_ok();
    assert!(answers());

    child.kill().unwrap(); // SIGKILL: no shutdown code runs
    child.wait().unwrap();

    // The kernel's parent-death signal stops the server; give it the time a clean stop takes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while answers() {
        assert!(Instant::now() < deadline, "the local ClickHouse outlived a killed service");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the service on `port` is ready, or fails with its exit.
async fn ready(child: &mut std::process::Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline && child.try_wait().unwrap().is_none(), "serve never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rating(id: uuid::Uuid) -> serde_json::Value {
    serde_json::json!({
        "event_id": id, "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": 4
    })
}

#[tokio::test]
async fn after_kill_9_mid_load_and_every_client_retrying_each_202_lands_exactly_once() {
    // Arrange: the binary on the tests' ClickHouse, a database and spool of its own.
    let data = scratch("kill9-spool");
    let server = crate::support::server();
    let database = crate::support::unique_database();
    let config = serve_config(&data);
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("\"1h\"", "\"200ms\"")).unwrap();
    let spool = data.join("spool");
    let start = |port: u16| {
        touchpoint(
            &["serve", "--config", config.to_str().unwrap()],
            &[
                ("TOUCHPOINT_LISTEN", &format!("127.0.0.1:{port}")),
                ("TOUCHPOINT_CLICKHOUSE_URL", server.url.as_str()),
                ("TOUCHPOINT_CLICKHOUSE_USER", &server.user),
                ("TOUCHPOINT_CLICKHOUSE_PASSWORD", secrecy::ExposeSecret::expose_secret(&server.password)),
                ("TOUCHPOINT_CLICKHOUSE_DATABASE", &database),
                ("TOUCHPOINT_SPOOL_DIR", spool.to_str().unwrap()),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };
    let port = free_port();
    let mut child = start(port);
    ready(&mut child, port).await;
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let id = uuid::Uuid::new_v4();
                    match http.post(format!("http://127.0.0.1:{port}/api/v1/feedback")).json(&rating(id)).send().await {
                        Ok(r) if r.status() == 202 => accepted.lock().unwrap().push(id),
                        _ => break,
                    }
                }
            })
        })
        .collect();

    // Act: SIGKILL under load, then start again on the same spool.
    while accepted.lock().unwrap().len() < 600 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for stream in streams {
        stream.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let port = free_port();
    let mut child = start(port);
    ready(&mut child, port).await;
    // The clients cannot know what the kill took: each retries everything it
    // sent. Without occurred_at, a retry that got through would be a new row.
    let http = reqwest::Client::new();
    for id in &accepted {
        let response = http.post(format!("http://127.0.0.1:{port}/api/v1/feedback")).json(&rating(*id)).send().await;
        assert_eq!(response.unwrap().status(), 202, "a retry is answered 202");
    }

    // Assert: each 202 once in the table and once in the rollup. Requests in
    // flight at the kill may land too (at most once); they never got a 202.
    let storage = Storage::new(server, &database);
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored: Vec<String> = loop {
        let ids: Vec<String> =
            storage.client().query("SELECT toString(event_id) FROM feedback").fetch_all().await.unwrap();
        if ids.len() >= accepted.len() || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let unique: std::collections::HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no rating stored twice");
    let missing = accepted.iter().filter(|id| !unique.contains(&id.to_string())).count();
    assert_eq!(missing, 0, "of {} accepted ratings, {missing} are missing", accepted.len());
    let rollup: i64 = storage.client().query("SELECT sum(n) FROM feedback_daily").fetch_one().await.unwrap();
    assert_eq!(rollup, stored.len() as i64, "the rollup counts each stored rating once");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}

/// The files are the first version, and any version exports back to files
/// of the same format that load as that version.
#[tokio::test]
async fn a_register_version_exports_to_files_that_load_as_it() {
    use serde_json::json;
    use touchpoint::domain::Role;
    use touchpoint::register::documents::Documents;
    let config = crate::support::test_config();
    let app = crate::support::spawn_app_with(config.clone()).await;
    let editor = crate::support::api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let approver = crate::support::api_token(&app.storage, Role::Approver, &[]).await;
    let change = json!({"change": {"kind": "exclude_touchpoint", "touchpoint": "vks"}, "reason": "не используется"});
    let url = |path: &str| format!("{}{path}", app.address);
    let drafted: serde_json::Value = app
        .http
        .post(url("/api/v1/register/changes"))
        .bearer_auth(&editor)
        .json(&change)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approve = url(&format!("/api/v1/register/changes/{}/approve", drafted["change_id"].as_str().unwrap()));
    assert_eq!(app.http.post(approve).bearer_auth(&approver).send().await.unwrap().status(), 200);
    let server = crate::support::server();
    let password = secrecy::ExposeSecret::expose_secret(&server.password).to_string();
    let env = [
        ("TOUCHPOINT_CLICKHOUSE_URL", server.url.as_str()),
        ("TOUCHPOINT_CLICKHOUSE_DATABASE", config.clickhouse.database.as_str()),
        ("TOUCHPOINT_CLICKHOUSE_PASSWORD", password.as_str()),
    ];
    let (latest, first) = (scratch("export-latest"), scratch("export-first"));

    let out = run(&["export", latest.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["export", first.to_str().unwrap(), "--version", "1"], &env);
    assert!(out.status.success(), "{}", stderr(&out));

    let load = |dir: &std::path::Path| Documents::of(&touchpoint::journeys::Catalog::load(dir).unwrap());
    let files = load(&repo().join("dashboards"));
    assert_eq!(load(&first), files, "version 1 is the files");
    let exported = load(&latest);
    let (_, second) = app.get_json("/api/v1/register/versions/2").await;
    assert_eq!(serde_json::to_value(&exported).unwrap(), second, "the version in force, as stored");
    assert!(exported.register.touchpoints.iter().any(|t| t.id == "vks" && t.excluded_since.is_some()));
    let missing = run(&["export", first.to_str().unwrap(), "--version", "9"], &env);
    assert!(!missing.status.success() && stderr(&missing).contains("there is no version 9"), "{}", stderr(&missing));
    app.stop().await;
}

#[test]
fn bi_dictionaries_prints_the_definitions_the_local_server_loads_for_the_configured_database() {
    let mut child = touchpoint(
        &["bi-dictionaries", "--port", "9123", "--user", "reader"],
        &[("TOUCHPOINT_CLICKHOUSE_DATABASE", "ministry")],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"p&w secret\n").unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(output.status.success(), "{}", stderr(&output));
    let source =
        touchpoint::storage::bi::Source { host: "127.0.0.1", port: 9123, user: "reader", password: "p&w secret" };
    assert_eq!(String::from_utf8_lossy(&output.stdout), touchpoint::storage::bi::dictionaries_xml("ministry", &source));
    assert!(String::from_utf8_lossy(&output.stdout).contains("<password>p&amp;w secret</password><db>ministry</db>"));
}
