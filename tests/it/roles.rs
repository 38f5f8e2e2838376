//! Every guarded route against every role, by token and by session: the role
//! a route admits gets its answer, any other a 403 naming the role, never data.

use touchpoint::accounts::auth::{self, Grant};
use touchpoint::domain::Role;

use crate::dashboards::{APIS, PAGES};
use crate::support::{PASSWORD, TestApp, no_redirects, spawn_app};

/// Routes for analysts only besides the dashboards' pages and API: the case
/// report, the stage durations (API and page), the official figures and
/// report (issue 18) and the metrics (a case's
/// timeline and page, which are 404 without a stored case: `dossiers.rs`).
const ANALYSTS: &[&str] = &[
    "/api/v1/journeys/scrap-metal-licensing/cases",
    "/api/v1/journeys/scrap-metal-licensing/stage-durations",
    "/dashboard/scrap-metal-licensing/stage-durations",
    "/dashboard/scrap-metal-licensing/stage-durations?days=90&lang=en",
    "/metrics",
    "/api/v1/journeys/scrap-metal-licensing/official",
    "/dashboard/scrap-metal-licensing/official",
    "/dashboard/scrap-metal-licensing/official?layout=a11&lang=en&period=90",
    "/dashboard/scrap-metal-licensing/official.xlsx",
    "/dashboard/scrap-metal-licensing/official.csv?table=1",
];

/// Routes for admins only: the admin page.
const ADMINS: &[&str] = &["/admin", "/admin?lang=en"];

/// Routes for handlers only: the case queue's API and pages, the phone log's page.
const HANDLERS: &[&str] = &[
    "/api/v1/cases",
    "/api/v1/cases?overdue=true",
    "/cases",
    "/cases?overdue=1&lang=en",
    "/calls/new",
    "/calls/new?lang=en",
];

/// Routes for several roles: the recommendations (the lab and the units that
/// carry them out) and the register's drafts (editors and approvers).
const SHARED: &[(&str, &[Role])] = &[
    ("/recommendations", &[Role::Analyst, Role::Handler]),
    ("/recommendations?journey=scrap-metal-licensing&lang=en", &[Role::Analyst, Role::Handler]),
    ("/api/v1/journeys/scrap-metal-licensing/recommendations", &[Role::Analyst, Role::Handler]),
    ("/register/changes", &[Role::Editor, Role::Approver]),
    ("/api/v1/register/changes", &[Role::Editor, Role::Approver]),
];

fn grant(role: Role) -> Grant {
    let units = if role.has_units() { vec!["licensing".to_string()] } else { Vec::new() };
    Grant { role, units }
}

async fn session(app: &TestApp, role: Role) -> String {
    let name = format!("user-{role}");
    auth::add_user(&app.storage, &name, PASSWORD, &grant(role)).await.unwrap();
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("name", name.as_str()), ("password", PASSWORD), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{role} logs in");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// Routes that change something, with the roles each admits: any other role
/// is refused before the body is read, so the bodies need not be valid.
const CHANGES: &[(&str, &[Role])] = &[
    ("/api/v1/cases/00000000-0000-4000-8000-000000000000/changes", &[Role::Handler]),
    ("/cases/00000000-0000-4000-8000-000000000000/changes", &[Role::Handler]),
    ("/cases/spam", &[Role::Handler]),
    ("/calls", &[Role::Handler]),
    ("/admin/accounts", &[Role::Admin]),
    ("/admin/accounts/someone/grant", &[Role::Admin]),
    ("/admin/accounts/someone/disable", &[Role::Admin]),
    ("/admin/tokens", &[Role::Admin]),
    ("/admin/tokens/someone/revoke", &[Role::Admin]),
    ("/api/v1/case-refs/key", &[Role::Analyst]),
    ("/case-refs", &[Role::Analyst]),
    ("/api/v1/register/changes", &[Role::Editor]),
    ("/api/v1/register/changes/00000000-0000-4000-8000-000000000000/approve", &[Role::Approver]),
    ("/api/v1/register/changes/00000000-0000-4000-8000-000000000000/reject", &[Role::Approver]),
    ("/api/v1/register/versions/1/published", &[Role::Approver]),
    ("/api/v1/recommendations", &[Role::Analyst]),
    ("/recommendations", &[Role::Analyst]),
    ("/api/v1/recommendations/00000000-0000-4000-8000-000000000000", &[Role::Analyst, Role::Handler]),
    ("/recommendations/00000000-0000-4000-8000-000000000000", &[Role::Analyst, Role::Handler]),
];

#[tokio::test]
async fn every_route_that_changes_something_refuses_the_other_roles() {
    let app = spawn_app().await;
    for role in Role::ALL {
        let token = auth::create_token(&app.storage, &format!("script-{role}"), &grant(role)).await.unwrap();
        let cookie = session(&app, role).await;
        for (path, admitted) in CHANGES.iter().filter(|(_, admitted)| !admitted.contains(&role)) {
            for by_token in [true, false] {
                let request = no_redirects().post(format!("{}{path}", app.address)).form(&[("x", "1")]);
                let request =
                    if by_token { request.bearer_auth(&token) } else { request.header("cookie", cookie.as_str()) };
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(status, 403, "{role} (for {admitted:?}): {path}: {body}");
                assert_eq!(body["error"]["field"], "role", "{body}");
            }
        }
        let anonymous = no_redirects().post(format!("{}/cases/spam", app.address)).form(&[("x", "1")]);
        assert_eq!(anonymous.send().await.unwrap().status(), 303, "no login: to the login page");
    }
    app.stop().await;
}

#[tokio::test]
async fn each_route_answers_its_roles_and_refuses_the_others() {
    let app = spawn_app().await;
    for role in Role::ALL {
        let token = auth::create_token(&app.storage, &format!("script-{role}"), &grant(role)).await.unwrap();
        let cookie = session(&app, role).await;
        let analysts = PAGES.iter().chain(APIS).chain(ANALYSTS);
        let routes = analysts
            .map(|p| (*p, &[Role::Analyst][..]))
            .chain(HANDLERS.iter().map(|p| (*p, &[Role::Handler][..])))
            .chain(ADMINS.iter().map(|p| (*p, &[Role::Admin][..])))
            .chain(SHARED.iter().copied());
        for (path, admitted) in routes {
            for by_token in [true, false] {
                let request = no_redirects().get(format!("{}{path}", app.address));
                let request =
                    if by_token { request.bearer_auth(&token) } else { request.header("cookie", cookie.as_str()) };
                let response = request.send().await.unwrap();
                let how = if by_token { "token" } else { "session" };
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                if admitted.contains(&role) {
                    assert_eq!(status, 200, "{role} by {how}: {path}: {body}");
                } else {
                    assert_eq!(status, 403, "{role} by {how}: {path}: {body}");
                    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let e = &error["error"];
                    assert_eq!((e["code"].as_str(), e["field"].as_str()), (Some("forbidden"), Some("role")), "{body}");
                    let keys: Vec<&String> = error.as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["error"], "nothing but the error: {body}");
                }
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_role_change_takes_effect_at_the_next_request_of_a_session() {
    let app = spawn_app().await;
    let cookie = session(&app, Role::Analyst).await;
    let get = || no_redirects().get(format!("{}/dashboard", app.address)).header("cookie", cookie.as_str()).send();
    assert_eq!(get().await.unwrap().status(), 200);

    // The same account made a handler: the session it holds ends at once (any
    // change to an account ends its sessions), and nothing is read with it.
    auth::add_user(&app.storage, "user-analyst", PASSWORD, &grant(Role::Handler)).await.unwrap();
    let after = get().await.unwrap();
    assert_eq!(
        (after.status().as_u16(), after.headers()["location"].to_str().unwrap()),
        (303, "/login?next=%2Fdashboard")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_account_and_a_revoked_token_read_nothing_from_their_next_request() {
    let app = spawn_app().await;
    let cookie = session(&app, Role::Analyst).await;
    let token = auth::create_token(&app.storage, "weekly-report", &Grant::analyst()).await.unwrap();
    let by_cookie =
        || no_redirects().get(format!("{}/dashboard", app.address)).header("cookie", cookie.as_str()).send();
    let by_token = || no_redirects().get(format!("{}/metrics", app.address)).bearer_auth(&token).send();
    assert_eq!(by_cookie().await.unwrap().status(), 200);
    assert_eq!(by_token().await.unwrap().status(), 200);

    assert!(auth::disable_user(&app.storage, "user-analyst").await.unwrap());
    assert_eq!(auth::revoke_tokens(&app.storage, "weekly-report").await.unwrap(), 1);

    let page = by_cookie().await.unwrap();
    assert_eq!(page.status(), 303, "back to the login page");
    assert!(page.headers()["location"].to_str().unwrap().starts_with("/login"));
    assert_eq!(by_token().await.unwrap().status(), 401);
    let login = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("name", "user-analyst"), ("password", PASSWORD), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_ne!(login.status(), 303, "no new session either");
    assert!(!auth::disable_user(&app.storage, "nobody").await.unwrap());
    app.stop().await;
}
