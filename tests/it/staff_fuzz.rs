//! Every staff page's form and query parameter, fuzzed the way the public
//! API's are (issue 28, items 5 and 18): whatever a signed-in person sends,
//! the answer is never a 5xx — a bad value is a page or JSON that names it.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use touchpoint::accounts::auth::{self, Grant};
use touchpoint::domain::Role;
use uuid::Uuid;

use crate::support::{PASSWORD, catalog_with_units, no_redirects, spawn_app_with, test_config, wait_for_rows};

/// Cases per run; each is one request.
const CASES: u32 = 600;

const J: &str = "scrap-metal-licensing";

/// Values a person (or a tampered page) might send for any field.
const NASTY: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1",
    "2",
    "5",
    "7",
    "30",
    "90",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "30000000",
    "18446744073709551616",
    "1e9",
    "NaN",
    "-0",
    "0x10",
    "1.5",
    "2026-01-01",
    "2026-12-31",
    "2099-12-31",
    "1970-01-01",
    "0001-01-01",
    "9999-12-31",
    "2026-13-45",
    "2026-02-30",
    "legal_entity",
    "individual",
    "segment",
    "site",
    "phone",
    "epgu",
    "email",
    "application",
    "information_search",
    "scrap-metal-licensing/application",
    "scrap-metal-licensing/nope",
    "licensing",
    "general",
    "analyst",
    "admin",
    "handler",
    "editor",
    "approver",
    "en",
    "ru",
    "all",
    "true",
    "false",
    "acknowledge",
    "answer",
    "close",
    "resolved",
    "spam",
    "stage_score",
    "tag_share",
    "criterion",
    "implemented",
    "verified",
    "add_touchpoint",
    "edit_stage",
    "exclude_touchpoint",
    "'; DROP TABLE x --",
    "\u{0}",
    "\u{202e}evil",
    "\u{feff}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "\r\nX-Bad: 1",
    "🙂",
    "Ё",
    "00000000-0000-0000-0000-000000000000",
];

/// Values a field takes from the page's own choices, so that most
/// requests get past the first check and reach the queries.
fn plausible(field: &str) -> &'static [&'static str] {
    match field {
        "period" | "days" => &["7", "30", "90", "365"],
        "from" | "planned_on" | "implemented_on" => &["2026-01-01", "2026-06-01", "2026-11-30"],
        "to" => &["2026-12-31", "2026-06-30", "2026-01-01"],
        "segment" => &["individual", "legal_entity", "sole_proprietor", "internal"],
        "touchpoint" => &["site", "epgu", "phone", "email", "office"],
        "channel" => &["site", "phone", "email", "epgu", "in_person"],
        "quarter" => &["2026-Q4", "2026-Q1", "2026-Q5"],
        "lang" => &["en", "ru"],
        "status" => &["all", "new", "closed", "accepted", "in_progress"],
        "stage" | "place" => &["application", "information_search", "scrap-metal-licensing/application"],
        "unit" | "owner_unit" => &["licensing", "general"],
        _ => NASTY,
    }
}

/// A value: a plausible one for the field, one of [`NASTY`], a long one, or
/// arbitrary text.
fn value(field: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(plausible(field)).prop_map(str::to_string),
        3 => prop::sample::select(NASTY).prop_map(str::to_string),
        1 => Just("x".repeat(5_000)),
        1 => "\\PC{0,40}",
    ]
}

struct Route {
    method: &'static str,
    path: String,
    fields: &'static [&'static str],
}

fn routes(case: Uuid, recommendation: Uuid) -> Vec<Route> {
    let view = &["period", "from", "to", "touchpoint", "channel", "segment", "lang", "quarter"][..];
    let get = |path: String, fields| Route { method: "GET", path, fields };
    let post = |path: String, fields| Route { method: "POST", path, fields };
    vec![
        get(format!("/dashboard/{J}"), view),
        get(format!("/dashboard/{J}/report"), view),
        get(format!("/dashboard/{J}/report.pdf"), view),
        get(format!("/dashboard/{J}/official"), view),
        get(format!("/dashboard/{J}/official.xlsx"), view),
        get(format!("/dashboard/{J}/official.csv"), view),
        get(format!("/dashboard/{J}/export/stages.csv"), view),
        get(format!("/dashboard/{J}/export/feedback.csv"), view),
        get(format!("/dashboard/{J}/stage-durations"), &["days", "lang"]),
        get(format!("/api/v1/journeys/{J}/stats"), view),
        get(format!("/api/v1/journeys/{J}/official"), view),
        get(format!("/api/v1/journeys/{J}/cases"), &["period"]),
        get(format!("/api/v1/journeys/{J}/charts/stages.svg"), view),
        get("/cases".into(), &["status", "unit", "stage", "overdue", "page", "lang", "closed"]),
        get(format!("/cases/{case}"), &["lang", "done"]),
        get("/api/v1/cases".into(), &["status", "stage", "unit", "overdue", "limit", "offset"]),
        get("/admin".into(), &["lang", "done"]),
        get("/register/changes".into(), &["lang", "done"]),
        get("/register".into(), &["version", "from", "lang"]),
        get("/recommendations".into(), &["lang", "journey", "done"]),
        get("/calls/new".into(), &["lang", "place", "logged"]),
        post(
            "/calls".into(),
            &[
                "place",
                "event_id",
                "wait_seconds",
                "talk_seconds",
                "ended_minutes_ago",
                "transfers",
                "resolved",
                "process",
                "operator",
                "lang",
                "a.staff",
                "a.time",
            ],
        ),
        post(format!("/cases/{case}/changes"), &["change_id", "action", "text", "resolution", "lang"]),
        post("/cases/spam".into(), &["batch", "id", "lang"]),
        post("/admin/accounts".into(), &["name", "password", "role", "units", "lang"]),
        post("/admin/accounts/fuzzed/grant".into(), &["role", "units", "lang"]),
        post("/admin/tokens".into(), &["name", "role", "units", "lang"]),
        post(
            "/register/changes".into(),
            &[
                "kind",
                "reason",
                "lang",
                "touchpoint",
                "to",
                "needs",
                "id",
                "name_ru",
                "name_en",
                "channel",
                "processes",
                "stage",
                "touchpoints",
                "legal_deadline_days",
                "unit",
            ],
        ),
        post(
            "/recommendations".into(),
            &["lang", "journey", "stage", "text_ru", "text_en", "owner_unit", "measure", "tag", "question", "aim"],
        ),
        post(
            format!("/recommendations/{recommendation}"),
            &["lang", "journey", "version", "status", "planned_on", "implemented_on", "window_days", "note", "aim"],
        ),
        post("/case-refs".into(), &["case_ref", "lang"]),
    ]
}

#[tokio::test]
async fn no_staff_form_or_query_parameter_is_ever_a_5xx() {
    let mut config = test_config();
    config.dashboards_dir = catalog_with_units();
    config.limits.per_ip_burst = 100_000;
    let app = spawn_app_with(config).await;
    let units = || vec!["licensing".to_string(), "general".to_string()];
    let grants = [
        ("an", Grant::analyst()),
        ("ha", Grant { role: Role::Handler, units: units() }),
        ("ad", Grant { role: Role::Admin, units: vec![] }),
        ("ed", Grant { role: Role::Editor, units: units() }),
        ("ap", Grant { role: Role::Approver, units: vec![] }),
    ];
    let mut cookies = Vec::new();
    for (name, grant) in &grants {
        auth::add_user(&app.storage, name, PASSWORD, grant).await.unwrap();
        cookies.push(crate::support::session_of(&app, name).await);
    }
    auth::add_user(&app.storage, "fuzzed", PASSWORD, &Grant::analyst()).await.unwrap();
    let low = json!({"event_id": Uuid::new_v4(), "site": "demo", "journey": J, "stage": "application",
        "touchpoint": "epgu", "scale": "csat", "score": 1, "segment": "legal_entity"});
    assert_eq!(app.post("/api/v1/feedback", &low).await.0, 202);
    wait_for_rows(&app.storage, "cases", 1).await;
    let case: Uuid = low["event_id"].as_str().unwrap().parse().unwrap();
    let recommendation: String =
        app.storage.client().query("SELECT toString(id) FROM recommendations LIMIT 1").fetch_one().await.unwrap();
    let recommendation: Uuid = recommendation.parse().unwrap();
    let routes = routes(case, recommendation);
    let mut runner = TestRunner::new(Config { cases: CASES, ..Config::default() });
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for _ in 0..CASES {
        let (route, who) = (0..routes.len(), 0..cookies.len()).new_tree(&mut runner).unwrap().current();
        let route = &routes[route];
        let mut fields: Vec<(&str, String)> = Vec::new();
        for name in route.fields {
            if let Some(v) = prop::option::of(value(name)).new_tree(&mut runner).unwrap().current() {
                fields.push((*name, v));
            }
        }
        let url = format!("{}{}", app.address, route.path);
        let request = match route.method {
            "GET" => no_redirects().get(url).query(&fields),
            _ => no_redirects().post(url).header("origin", &app.address).form(&fields),
        };
        let response = match request.header("cookie", &cookies[who]).send().await {
            Ok(response) => response,
            Err(e) => panic!("{} {}: no answer: {}", route.method, route.path, e.without_url()),
        };
        let status = response.status().as_u16();
        *seen.entry(status).or_default() += 1;
        let shown: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.chars().take(40).collect())).collect();
        assert!(status < 500, "{} {} as {} with {shown:?}: {status}", route.method, route.path, grants[who].0);
    }
    assert!(seen.keys().any(|s| *s < 300), "some requests got through: {seen:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_segment_filter_reads_and_a_reversed_period_is_a_page_naming_the_field() {
    let app = spawn_app_with(test_config()).await;
    auth::add_user(&app.storage, "an", PASSWORD, &Grant::analyst()).await.unwrap();
    let cookie = crate::support::session_of(&app, "an").await;
    let get = |path: String| {
        no_redirects().get(format!("{}{path}", app.address)).header("cookie", &cookie).header("accept", "text/html")
    };
    for path in [
        format!("/dashboard/{J}?segment=legal_entity"),
        format!("/dashboard/{J}/official?segment=legal_entity"),
        format!("/dashboard/{J}/official.csv?segment=legal_entity"),
        format!("/api/v1/journeys/{J}/official?segment=legal_entity"),
    ] {
        assert_eq!(get(path.clone()).send().await.unwrap().status(), 200, "{path}");
    }
    let response = get(format!("/dashboard/{J}?from=2026-06-01&to=2026-01-01&lang=en")).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(
        page.contains("There is a problem")
            && (page.contains("«Start of the period»") || page.contains("«End of the period»")),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/dashboard/{J}\"")), "a way back: {page}");
    // The API keeps its JSON, whatever the client accepts.
    let api = get(format!("/api/v1/journeys/{J}/stats?from=2026-06-01&to=2026-01-01")).send().await.unwrap();
    assert_eq!(api.status(), 422);
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    app.stop().await;
}

#[tokio::test]
async fn what_staff_write_is_stored_without_what_no_person_types() {
    let app = spawn_app_with(test_config()).await;
    let editor = crate::support::api_token(&app.storage, Role::Editor, &["licensing"]).await;
    let analyst = crate::support::analyst_token(&app.storage).await;
    let dirty = "\u{feff}Причина\u{0} \u{202e}изменения\u{2066}";
    let draft = json!({"change": {"kind": "exclude_touchpoint", "touchpoint": "vks"}, "reason": dirty});
    let (status, body) = app.post_as(&editor, "/api/v1/register/changes", &draft).await;
    assert_eq!(status, 201, "{body}");
    let reason: String = app.storage.client().query("SELECT reason FROM register_changes").fetch_one().await.unwrap();
    assert_eq!(reason, "Причина изменения");
    let recommendation = json!({"journey": J, "stage": "application", "text_ru": dirty, "text_en": "Text\u{1b}[2J",
        "owner_unit": "licensing", "measure": "stage_score"});
    let (status, body) = app.post_as(&analyst, "/api/v1/recommendations", &recommendation).await;
    assert_eq!(status, 201, "{body}");
    let texts: (String, String) = app
        .storage
        .client()
        .query("SELECT text_ru, text_en FROM recommendations WHERE id = toUUID(?)")
        .bind(body["id"].as_str().unwrap())
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(texts, ("Причина изменения".to_string(), "Text[2J".to_string()));
    app.stop().await;
}
