//! Guessing logins and API tokens is limited per client address, and nobody
//! can lock an analyst out from elsewhere. Each client below connects from a
//! loopback address of its own (127.0.0.N), as distinct clients would.

use std::net::{IpAddr, Ipv4Addr};

use touchpoint::accounts::auth;

use crate::support::{PASSWORD, TestApp, spawn_app_with, test_config};

const STATS: &str = "/api/v1/journeys/scrap-metal-licensing/stats";

fn from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn attempt(app: &TestApp, client: u8, name: &str, password: &str) -> u16 {
    let form = [("name", name), ("password", password)];
    from(client).post(format!("{}/login", app.address)).form(&form).send().await.unwrap().status().as_u16()
}

async fn app(burst: u32, per_address: u32) -> TestApp {
    let mut config = test_config();
    config.dashboards.login_burst = burst;
    config.dashboards.login_burst_per_address = per_address;
    let app = spawn_app_with(config).await;
    auth::add_user(&app.storage, "olga", PASSWORD, &auth::Grant::analyst()).await.unwrap();
    app
}

#[tokio::test]
async fn a_stranger_guessing_a_name_from_many_addresses_cannot_lock_its_analyst_out() {
    let app = app(3, 20).await;
    for client in 2..=9 {
        assert_eq!(attempt(&app, client, "olga", "guess").await, 401, "client {client}");
    }
    let started = std::time::Instant::now();
    assert_eq!(attempt(&app, 1, "olga", PASSWORD).await, 303, "the analyst still gets in");
    let waited = started.elapsed();
    assert!(waited >= std::time::Duration::from_millis(500), "slowed down while the name is guessed: {waited:?}");
    assert!(waited < std::time::Duration::from_secs(5), "but not for long: {waited:?}");
}

#[tokio::test]
async fn successful_logins_are_not_counted() {
    let app = app(2, 3).await;
    for round in 0..6 {
        assert_eq!(attempt(&app, 1, "olga", PASSWORD).await, 303, "login {round}");
    }
}

#[tokio::test]
async fn one_address_is_refused_for_a_name_and_over_all_names_others_are_not() {
    let app = app(2, 4).await;
    assert_eq!([attempt(&app, 1, "olga", "a").await, attempt(&app, 1, "olga", "b").await], [401, 401]);
    assert_eq!(attempt(&app, 1, "olga", PASSWORD).await, 429, "this address, this name");
    for name in ["ivan", "petr"] {
        assert_eq!(attempt(&app, 1, name, "c").await, 401);
    }
    let refused = from(1)
        .post(format!("{}/login", app.address))
        .form(&[("name", "anna"), ("password", "d")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429, "four failures over any names");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(attempt(&app, 2, "olga", PASSWORD).await, 303, "another address is not touched");
}

#[tokio::test]
async fn wrong_api_tokens_are_refused_per_address() {
    let app = app(5, 3).await;
    let token = crate::support::analyst_token(&app.storage).await;
    let get = |client: u8, token: String| {
        let url = format!("{}{STATS}", app.address);
        async move { from(client).get(url).bearer_auth(token).send().await.unwrap() }
    };
    for guess in 0..3 {
        assert_eq!(get(1, format!("guess-{guess}")).await.status(), 401);
    }
    let refused = get(1, token.clone()).await;
    assert_eq!(refused.status(), 429, "even the right token waits on that address");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(get(2, token).await.status(), 200, "another address is not touched");
}

#[tokio::test]
async fn guesses_sent_at_once_get_no_more_tries_than_guesses_sent_one_by_one() {
    let app = app(3, 20).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (client, url) = (from(1), format!("{}/login", app.address));
        guesses.spawn(async move {
            let form = [("name", "olga".to_string()), ("password", format!("guess {i}"))];
            client.post(url).form(&form).send().await.unwrap().status().as_u16()
        });
    }
    let mut statuses = guesses.join_all().await;
    statuses.sort();
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart() {
    let mut config = test_config();
    config.dashboards.login_burst = 2;
    config.limits.trusted_proxies = vec!["127.0.0.5/32".parse().unwrap()];
    let app = spawn_app_with(config).await;
    auth::add_user(&app.storage, "olga", PASSWORD, &auth::Grant::analyst()).await.unwrap();
    let via_proxy = |client: &'static str, password: &'static str| {
        from(5)
            .post(format!("{}/login", app.address))
            .header("x-forwarded-for", client)
            .form(&[("name", "olga"), ("password", password)])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(via_proxy("198.51.100.1", "guess").await.unwrap().status(), 401);
    }
    assert_eq!(via_proxy("198.51.100.1", PASSWORD).await.unwrap().status(), 429);
    assert_eq!(via_proxy("198.51.100.2", PASSWORD).await.unwrap().status(), 303, "another client behind the proxy");
}
