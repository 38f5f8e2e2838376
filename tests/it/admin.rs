//! The admin page: accounts and tokens made, changed, disabled and revoked
//! through its forms, taking effect at the next request; an admin cannot
//! lock themselves out; the units and rules are shown with their addresses.

use touchpoint::accounts::auth::{self, Grant};
use touchpoint::domain::Role;

use crate::support::{PASSWORD, TestApp, catalog_with_units, no_redirects, spawn_app_with, test_config};

async fn login(app: &TestApp, name: &str) -> Option<String> {
    crate::support::try_session_of(app, name).await
}

/// Posts a form as `cookie`; the status and the location or body.
async fn form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = no_redirects()
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(response.text().await.unwrap()))
}

async fn status(app: &TestApp, path: &str, cookie: Option<&str>, token: Option<&str>) -> u16 {
    let mut request = no_redirects().get(format!("{}{path}", app.address));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_admin_keeps_accounts_and_tokens_and_cannot_lock_themselves_out() {
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    config.notify.units.insert("licensing".into(), vec!["licensing@ministry.example".into()]);
    config.cases.calls_unit = Some("call-centre".into());
    let app = spawn_app_with(config).await;
    auth::add_user(&app.storage, "root", PASSWORD, &Grant { role: Role::Admin, units: vec![] }).await.unwrap();
    let root = login(&app, "root").await.unwrap();

    let page = no_redirects().get(format!("{}/admin", app.address)).header("cookie", &root).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("licensing@ministry.example") && page.contains("scrap-metal-licensing / application"));
    assert!(page.contains("general") && page.contains("нет: писем не будет"), "a unit without addresses says so");
    assert!(page.contains("call-centre") && page.contains("calls without a stage"));

    let add = |password: &'static str, role: &'static str, units: &'static str| {
        [("name", "irina"), ("password", password), ("role", role), ("units", units)]
    };
    let (code, body) = form(&app, &root, "/admin/accounts", &add("short", "handler", "licensing")).await;
    assert_eq!(code, 422);
    assert!(body.contains("at least 12"), "the page says why");
    assert_eq!(
        form(&app, &root, "/admin/accounts", &add(PASSWORD, "handler", "")).await.0,
        422,
        "a handler needs a unit"
    );
    assert_eq!(
        form(&app, &root, "/admin/accounts", &add(PASSWORD, "handler", "licensing")).await,
        (303, "/admin?done=added".into())
    );
    let irina = login(&app, "irina").await.expect("irina logs in");
    for (name, home) in [("irina", "/cases"), ("root", "/admin")] {
        let response = no_redirects()
            .post(format!("{}/login", app.address))
            .form(&[("name", name), ("password", PASSWORD), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], home, "a login that asks for no page lands on the role's own");
    }
    assert_eq!(status(&app, "/cases", Some(&irina), None).await, 200);

    let to_analyst = [("role", "analyst"), ("units", "")];
    assert_eq!(form(&app, &root, "/admin/accounts/irina/grant", &to_analyst).await.0, 303);
    assert_eq!(status(&app, "/cases", Some(&irina), None).await, 303, "her session ends with the change");
    let irina = login(&app, "irina").await.unwrap();
    assert_eq!(status(&app, "/cases", Some(&irina), None).await, 403, "an analyst now");
    assert_eq!(status(&app, "/dashboard", Some(&irina), None).await, 200);
    assert_eq!(form(&app, &root, "/admin/accounts/nobody/grant", &to_analyst).await.0, 404);
    assert_eq!(form(&app, &root, "/admin/accounts/irina/disable", &[]).await.0, 303);
    assert_eq!(status(&app, "/dashboard", Some(&irina), None).await, 303, "her session is over");
    assert!(login(&app, "irina").await.is_none());

    let (code, page) =
        form(&app, &root, "/admin/tokens", &[("name", "crm"), ("role", "handler"), ("units", "licensing")]).await;
    assert_eq!(code, 200);
    let token = page.split("<code>").nth(1).unwrap().split("</code>").next().unwrap().to_string();
    assert!(token.starts_with("tp_"), "shown once: {token}");
    assert_eq!(status(&app, "/api/v1/cases", None, Some(&token)).await, 200);
    let listed = no_redirects().get(format!("{}/admin", app.address)).header("cookie", &root).send().await.unwrap();
    assert!(!listed.text().await.unwrap().contains(&token), "never shown again");
    assert_eq!(form(&app, &root, "/admin/tokens/crm/revoke", &[]).await.0, 303);
    assert_eq!(status(&app, "/api/v1/cases", None, Some(&token)).await, 401);

    let (code, body) = form(&app, &root, "/admin/accounts/root/disable", &[]).await;
    assert_eq!(code, 409);
    assert!(body.contains("Нельзя отключить свою учётную запись"));
    assert_eq!(form(&app, &root, "/admin/accounts/root/grant", &to_analyst).await.0, 409);
    let demote = [("name", "root"), ("password", PASSWORD), ("role", "analyst"), ("units", "")];
    assert_eq!(form(&app, &root, "/admin/accounts", &demote).await.0, 409, "nor through the add form");
    assert_eq!(status(&app, "/admin", Some(&root), None).await, 200, "still an admin");
    app.stop().await;
}

#[tokio::test]
async fn a_new_password_a_disable_or_a_re_enable_ends_the_accounts_sessions() {
    let app = spawn_app_with(test_config()).await;
    auth::add_user(&app.storage, "olga", PASSWORD, &Grant::analyst()).await.unwrap();
    let first = login(&app, "olga").await.unwrap();
    assert_eq!(status(&app, "/dashboard", Some(&first), None).await, 200);

    // A new password: the session opened with the old one ends.
    let new = "a brand new passphrase";
    auth::add_user(&app.storage, "olga", new, &Grant::analyst()).await.unwrap();
    assert_eq!(status(&app, "/dashboard", Some(&first), None).await, 303, "back to the login page");
    let second = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("name", "olga"), ("password", new), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 303);
    let second = second.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_eq!(status(&app, "/dashboard", Some(&second), None).await, 200, "the new password's session");

    // Disabled, and re-enabled with a password in the same second: the
    // re-enable is not lost, and the sessions from before stay ended.
    assert!(auth::disable_user(&app.storage, "olga").await.unwrap());
    auth::add_user(&app.storage, "olga", PASSWORD, &Grant::analyst()).await.unwrap();
    let enabled: u8 = app
        .storage
        .client()
        .query("SELECT disabled FROM analysts FINAL WHERE name = 'olga'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(enabled, 0, "the add right after the disable holds");
    assert_eq!(status(&app, "/dashboard", Some(&second), None).await, 303, "the old session is not revived");
    let third = login(&app, "olga").await.unwrap();
    assert_eq!(status(&app, "/dashboard", Some(&third), None).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_page_passes_axe() {
    use fantoccini::Locator;
    let app = spawn_app_with(test_config()).await;
    auth::add_user(&app.storage, "root", PASSWORD, &Grant { role: Role::Admin, units: vec![] }).await.unwrap();
    let (_driver, client) = crate::browser::browser(true).await;
    client.goto(&format!("{}/admin", app.address)).await.unwrap();
    client.find(Locator::Css("input[name=name]")).await.unwrap().send_keys("root").await.unwrap();
    let password = client.find(Locator::Css("input[name=password]")).await.unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    password.send_keys(crate::browser::ENTER).await.unwrap();
    client.wait().for_element(Locator::Css("main h2")).await.unwrap();
    let violations = crate::browser::axe(&client).await;
    assert!(violations.is_empty(), "axe: {violations:#?}");
    client.close().await.unwrap();
    app.stop().await;
}
