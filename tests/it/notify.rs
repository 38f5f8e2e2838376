//! Notifications: every case event reaches each webhook signed as a Standard
//! Webhook, and each unit gets a letter per new case and a daily digest of
//! its overdue cases, through receiver, mail-server and ClickHouse outages
//! and restarts. The receivers are real: an HTTP server here and PyPI's
//! aiosmtpd.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use secrecy::SecretString;
use serde_json::{Value, json};
use touchpoint::config::Config;
use touchpoint::config::notify::WebhookConfig;
use touchpoint::domain::Role;
use touchpoint::storage::Storage;
use touchpoint::storage::embedded::EmbeddedClickHouse;
use uuid::Uuid;

use crate::support::{
    SmtpSink, api_token, catalog_with_units, embedded_config, free_port, scratch, spawn_app_with, test_config,
};

/// A webhook receiver that answers 503 to the first `fail` posts.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, String, u16)>>>,
    fail: Arc<AtomicU32>,
}

impl Receiver {
    async fn start(fail: u32) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicU32::new(fail));
        let (log, failing) = (got.clone(), fail.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| async move {
                let status = if failing.load(Ordering::SeqCst) > 0 {
                    failing.fetch_sub(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                };
                log.lock().unwrap().push((headers, body, status.as_u16()));
                status
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, fail }
    }

    /// (webhook-id, type, status answered) of every post so far.
    fn posts(&self) -> Vec<(String, String, u16)> {
        let got = self.got.lock().unwrap();
        got.iter()
            .map(|(h, body, status)| {
                let body: Value = serde_json::from_str(body).unwrap();
                (h["webhook-id"].to_str().unwrap().to_string(), body["type"].as_str().unwrap().to_string(), *status)
            })
            .collect()
    }

    async fn wait_for(&self, what: impl Fn(&[(String, String, u16)]) -> bool) -> Vec<(String, String, u16)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let posts = self.posts();
            if what(&posts) || std::time::Instant::now() > deadline {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn secret() -> String {
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()))
}

/// Quick rounds and retries, the units' catalog, and a webhook to `url`.
fn config(url: &str, secret: &str) -> Config {
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    let n = &mut config.notify;
    n.poll_interval = Duration::from_millis(100);
    n.retry_base = Duration::from_millis(100);
    n.retry_max = Duration::from_millis(400);
    n.webhooks.push(WebhookConfig {
        name: "crm".into(),
        url: url.parse().unwrap(),
        secret: SecretString::from(secret),
        timeout: Duration::from_secs(5),
    });
    config
}

/// A csat 1 at the licensing unit's stage, or (`false`) at the general unit's.
fn rating(licensing: bool) -> Value {
    let (stage, touchpoint) = if licensing { ("application", "epgu") } else { ("information_search", "site") };
    json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
           "stage": stage, "touchpoint": touchpoint, "scale": "csat", "score": 1})
}

/// `(attempt, outcome)` of every recorded attempt at `event` for `target`.
async fn attempts(storage: &Storage, target: &str, event: &str) -> Vec<(u32, String)> {
    storage
        .client()
        .query("SELECT attempt, outcome FROM deliveries FINAL WHERE target = ? AND event_id = ? ORDER BY attempt")
        .bind(target)
        .bind(event)
        .fetch_all()
        .await
        .unwrap()
}

/// As [`attempts`], once the last one recorded is a delivery: the worker
/// writes it after the receiver has answered, so a test that saw the answer
/// may look before it is there.
async fn settled_attempts(storage: &Storage, target: &str, event: &str) -> Vec<(u32, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let tried = attempts(storage, target, event).await;
        if tried.last().is_some_and(|(_, o)| o == "delivered") || std::time::Instant::now() > deadline {
            return tried;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_case_event_reaches_the_webhook_signed_through_receiver_failures_and_a_restart() {
    let receiver = Receiver::start(2).await;
    let secret = secret();
    let config = config(&receiver.url, &secret);
    let app = spawn_app_with(config.clone()).await;
    let low = rating(true);
    assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202);
    let case = low["event_id"].as_str().unwrap().to_string();

    let posts = receiver.wait_for(|p| p.iter().any(|(_, _, s)| *s == 204)).await;
    let opened = (case.clone(), "case.opened".to_string());
    assert_eq!(
        posts,
        [
            (opened.0.clone(), opened.1.clone(), 503),
            (opened.0.clone(), opened.1.clone(), 503),
            (opened.0, opened.1, 204)
        ],
        "two refusals, then delivered, under one webhook-id"
    );
    let wanted = [(1, "failed".to_string()), (2, "failed".into()), (3, "delivered".into())];
    assert_eq!(settled_attempts(&app.storage, "webhook:crm", &case).await, wanted);
    let (headers, body, _) = receiver.got.lock().unwrap()[2].clone();
    standardwebhooks::Webhook::new(&secret).unwrap().verify(body.as_bytes(), &headers).expect("signed");
    // The same signature by hand: HMAC-SHA256 over id.timestamp.body with the key after `whsec_`.
    let key = base64::engine::general_purpose::STANDARD.decode(&secret["whsec_".len()..]).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    mac.update(format!("{case}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["data"]["case"]["id"].as_str(), body["data"]["case"]["unit"].as_str()),
        (Some(&*case), Some("licensing"))
    );

    // The receiver goes down; a change made meanwhile waits through a restart.
    receiver.fail.store(u32::MAX, Ordering::SeqCst);
    let handler = api_token(&app.storage, Role::Handler, &["licensing"]).await;
    let change = Uuid::new_v4().to_string();
    let acknowledged = app
        .http
        .post(format!("{}/api/v1/cases/{case}/changes", app.address))
        .bearer_auth(&handler)
        .json(&json!({"change_id": change, "action": "acknowledge"}))
        .send()
        .await
        .unwrap();
    assert_eq!(acknowledged.status(), 200);
    receiver.wait_for(|p| p.iter().any(|(id, _, s)| *id == change && *s == 503)).await;
    let storage = app.storage.clone();
    app.stop().await;
    receiver.fail.store(0, Ordering::SeqCst);
    let restarted = spawn_app_with(config).await;

    let posts = receiver.wait_for(|p| p.iter().any(|(id, _, s)| *id == change && *s == 204)).await;
    let delivered: Vec<(&str, &str)> =
        posts.iter().filter(|(_, _, s)| *s == 204).map(|(id, kind, _)| (id.as_str(), kind.as_str())).collect();
    assert_eq!(delivered, [(case.as_str(), "case.opened"), (change.as_str(), "case.acknowledged")], "each once");
    let outcomes = settled_attempts(&storage, "webhook:crm", &change).await;
    assert_eq!(outcomes.last().unwrap().1, "delivered");
    assert!(outcomes.len() >= 2 && outcomes[..outcomes.len() - 1].iter().all(|(_, o)| o == "failed"), "{outcomes:?}");
    restarted.stop().await;
}

#[tokio::test]
async fn a_case_opened_while_clickhouse_was_down_is_still_announced() {
    let receiver = Receiver::start(0).await;
    let data = scratch("notify-clickhouse");
    let server = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();
    let mut config = config(&receiver.url, &secret());
    config.clickhouse.url = Some(server.endpoint().url.clone());
    config.clickhouse.password = server.endpoint().password.clone();
    let app = spawn_app_with(config).await;
    server.stop().await.unwrap();

    let low = rating(true);
    assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202, "the spool takes it");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.posts().is_empty());
    let restarted = EmbeddedClickHouse::start(&embedded_config(&data), "touchpoint").await.unwrap();

    let posts = receiver.wait_for(|p| !p.is_empty()).await;
    let case = low["event_id"].as_str().unwrap();
    assert_eq!(posts, [(case.to_string(), "case.opened".to_string(), 204)]);
    app.stop().await;
    restarted.stop().await.unwrap();
}

/// A calendar on which every day of this year and the next is a working
/// day, so that the digest is due whatever day the suite runs.
fn every_day_working(dir: &std::path::Path) {
    let year = time::OffsetDateTime::now_utc().year();
    let mut text = String::new();
    for y in [year, year + 1] {
        let mut weekends = Vec::new();
        let mut day = time::Date::from_calendar_date(y, time::Month::January, 1).unwrap();
        while day.year() == y {
            if matches!(day.weekday(), time::Weekday::Saturday | time::Weekday::Sunday) {
                weekends.push(format!("\"{day}\""));
            }
            day = day.next_day().unwrap();
        }
        text.push_str(&format!("[years.{y}]\ndays_off = []\nworking_weekends = [{}]\n", weekends.join(", ")));
    }
    std::fs::write(dir.join("calendar.toml"), text).unwrap();
}

async fn insert_overdue_case(storage: &Storage) -> Uuid {
    let (opened, _) = crate::support::ago(10 * 24 * 3600);
    let case = touchpoint::storage::rows::CaseRow {
        event_id: Uuid::new_v4(),
        opened_at: opened,
        journey: "scrap-metal-licensing".into(),
        stage: "application".into(),
        touchpoint: "epgu".into(),
        unit: "licensing".into(),
        reason: "low_score".into(),
        acknowledge_by: opened + 24 * 3600,
        answer_by: opened + 5 * 24 * 3600,
    };
    crate::support::insert_cases(storage, [&case]).await;
    case.event_id
}

async fn wait_for_letters(sink: &SmtpSink, n: usize) -> Vec<crate::support::Letter> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let letters = sink.letters();
        if letters.len() >= n || std::time::Instant::now() > deadline {
            return letters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn units_get_a_letter_per_new_case_and_one_digest_a_day_through_a_mail_server_outage() {
    let mut config = config("http://127.0.0.1:9/unused", &secret());
    config.notify.webhooks.clear();
    every_day_working(&config.dashboards_dir);
    let port = free_port();
    config.notify.smtp = Some(crate::support::smtp_config(port));
    config.notify.units.insert("licensing".into(), vec!["licensing@ministry.example".into()]);
    config.notify.digest_at = "00:00".into();
    // The case is there before the first round: a digest found empty is not sent again that day.
    let storage = Storage::new(crate::support::server(), &config.clickhouse.database);
    storage.ensure_database().await.unwrap();
    touchpoint::storage::migrations::run(&storage, &touchpoint::storage::migrations::Migration::embedded())
        .await
        .unwrap();
    let overdue = insert_overdue_case(&storage).await;
    let app = spawn_app_with(config.clone()).await;
    let low = rating(true);
    assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202);
    assert_eq!(app.post("/api/v1/feedback", &rating(false)).await.0, 202, "unit general: no address");
    let case = low["event_id"].as_str().unwrap();
    // The mail server is down: both letters fail and wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while attempts(&app.storage, "mail:licensing", case).await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(attempts(&app.storage, "mail:licensing", case).await[0].1, "failed");

    let sink = SmtpSink::start(port, &scratch("maildir").join("box")).await;
    let letters = wait_for_letters(&sink, 2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.letters().len(), 2, "one new-case letter and one digest: {letters:#?}");
    let new_case = letters.iter().find(|l| l.body.contains(&format!("/cases/{case}"))).expect("the new case's letter");
    assert_eq!(new_case.to, "licensing@ministry.example");
    assert_eq!(new_case.message_id, format!("<{case}.mail-licensing@touchpoint>"), "the same on every attempt");
    assert!(new_case.subject.starts_with("Новый случай / New case: ") && new_case.body.contains("низкая оценка"));
    assert!(!new_case.body.contains(&overdue.to_string()));
    let digest = letters.iter().find(|l| l.body.contains(&format!("/cases/{overdue}"))).expect("the digest");
    assert!(
        digest.subject.starts_with("Просроченные случаи / Overdue cases: licensing, ")
            && digest.subject.ends_with("(1)")
    );
    assert!(!digest.body.contains(case), "the new case is not overdue");
    assert!(!letters.iter().any(|l| l.body.contains("information_search")), "no letter to a unit without addresses");

    // A restart sends neither again.
    app.stop().await;
    let restarted = spawn_app_with(config).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.letters().len(), 2);
    restarted.stop().await;
}

/// A certificate authority of the test's own and a certificate it signed
/// for `localhost`: the CA's PEM file, and the server's certificate and key files.
fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test]
async fn letters_go_over_starttls_and_implicit_tls_to_a_server_of_a_trusted_authority_only() {
    use touchpoint::config::notify::SmtpSecurity;
    let dir = scratch("smtp-tls");
    let (ca, cert, key) = certificates(&dir);
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for (security, options) in [
        (SmtpSecurity::Starttls, ["--tlscert", cert, "--tlskey", key]),
        (SmtpSecurity::Tls, ["--smtpscert", cert, "--smtpskey", key]),
    ] {
        let port = free_port();
        let sink = SmtpSink::start_with(port, &dir.join(format!("{security:?}")), &options).await;
        for trusted in [false, true] {
            let mut config = config("http://127.0.0.1:9/unused", &secret());
            config.notify.webhooks.clear();
            let mut smtp = crate::support::smtp_config(port);
            (smtp.host, smtp.security) = ("localhost".into(), security);
            smtp.ca_file = trusted.then(|| ca.clone());
            config.notify.smtp = Some(smtp);
            config.notify.units.insert("licensing".into(), vec!["licensing@ministry.example".into()]);
            let app = spawn_app_with(config).await;
            let low = rating(true);
            assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202);
            let (outcome, error) = first_letter_attempt(&app.storage, low["event_id"].as_str().unwrap()).await;
            let expected = if trusted { "delivered" } else { "failed" };
            assert_eq!(outcome, expected, "{security:?}, CA trusted: {trusted}");
            if !trusted {
                assert!(error.contains("UnknownIssuer"), "refused for its certificate: {error}");
            }
            app.stop().await;
        }
        assert_eq!(sink.letters().len(), 1, "{security:?}: only the letter to a trusted server");
    }
}

/// The outcome and error of the first attempt to send the licensing unit
/// the letter of `case`, once it has been made.
async fn first_letter_attempt(storage: &Storage, case: &str) -> (String, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while attempts(storage, "mail:licensing", case).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sql = "SELECT outcome, error FROM deliveries WHERE target = 'mail:licensing' AND event_id = ? AND attempt = 1";
    storage.client().query(sql).bind(case).fetch_one().await.unwrap()
}

#[tokio::test]
async fn letters_log_in_to_a_server_that_requires_smtp_auth() {
    use touchpoint::config::notify::SmtpSecurity;
    let dir = scratch("smtp-auth");
    let (ca, cert, key) = certificates(&dir);
    let port = free_port();
    let login = ["touchpoint", "correct horse"];
    let sink = SmtpSink::start_authenticating(port, &dir.join("box"), [&cert, &key], login).await;
    // No login: refused before MAIL FROM (530); a wrong password: 535.
    for (password, expected, code) in
        [(None, "failed", "530"), (Some("wrong"), "failed", "535"), (Some(login[1]), "delivered", "")]
    {
        let mut config = config("http://127.0.0.1:9/unused", &secret());
        config.notify.webhooks.clear();
        let mut smtp = crate::support::smtp_config(port);
        (smtp.host, smtp.security, smtp.ca_file) = ("localhost".into(), SmtpSecurity::Starttls, Some(ca.clone()));
        smtp.username = password.map(|_| login[0].to_string());
        smtp.password = password.map(|p| SecretString::from(p.to_string()));
        config.notify.smtp = Some(smtp);
        config.notify.units.insert("licensing".into(), vec!["licensing@ministry.example".into()]);
        let app = spawn_app_with(config).await;
        let low = rating(true);
        assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202);
        let (outcome, error) = first_letter_attempt(&app.storage, low["event_id"].as_str().unwrap()).await;
        assert_eq!(outcome, expected, "password {password:?}: {error}");
        assert!(error.contains(code), "password {password:?}: {error}");
        app.stop().await;
    }
    let letters = sink.letters();
    assert_eq!(letters.len(), 1, "only the letter of the account that logged in: {letters:#?}");
    assert_eq!(letters[0].to, "licensing@ministry.example");
}

#[tokio::test]
async fn an_instance_without_background_jobs_leaves_the_rounds_to_the_one_that_runs_them() {
    let receiver = Receiver::start(0).await;
    let secret = secret();
    let rounds = config(&receiver.url, &secret);
    let mut quiet = config(&receiver.url, &secret);
    quiet.clickhouse.database = rounds.clickhouse.database.clone();
    quiet.background_jobs = false;
    let second = spawn_app_with(quiet).await;
    assert_eq!(second.post("/api/v1/feedback", &rating(true)).await.0, 202);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.posts().is_empty(), "no rounds here: {:?}", receiver.posts());
    let tried: u64 = second.storage.client().query("SELECT count() FROM deliveries").fetch_one().await.unwrap();
    assert_eq!(tried, 0);

    // The instance that runs them sends what the other accepted, once.
    let first = spawn_app_with(rounds).await;
    let posts = receiver.wait_for(|p| !p.is_empty()).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    first.stop().await;
    second.stop().await;
}
