//! The official figures (issue 18): each criterion as its own measure, the
//! response rates, the standards, and the report as a page, XLSX and CSV —
//! the same numbers in each.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, ago, analyst_token, spawn_app_with_min_answers, wait_for_rolled_up};

fn place(stage: &str, touchpoint: &str) -> Value {
    json!({"site": "demo", "journey": "scrap-metal-licensing", "stage": stage, "touchpoint": touchpoint,
           "occurred_at": ago(3600).1})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base["event_id"] = json!(Uuid::new_v4());
    base
}

/// Ten widget showings, four opened, three set responses and two single
/// ratings at the on-site assessment; a letter's set link sent.
pub async fn seed(app: &TestApp) {
    let here = place("onsite_assessment", "in_person");
    for i in 0..10 {
        let kind = if i < 4 { "opened" } else { "shown" };
        let body = with(here.clone(), json!({"kind": "shown", "question_set": true}));
        assert_eq!(app.post("/api/v1/offers", &body).await.0, 202);
        if kind == "opened" {
            let body = with(here.clone(), json!({"kind": "opened", "question_set": true}));
            assert_eq!(app.post("/api/v1/offers", &body).await.0, 202);
        }
    }
    for scores in [[5, 4, 5], [4, 4, 3], [3, 2, 4]] {
        let answers = json!([{"question": "time", "score": scores[0]}, {"question": "staff", "score": scores[1]},
                             {"question": "premises", "score": scores[2]}]);
        let (status, body) = app.post("/api/v1/answers", &with(here.clone(), json!({"answers": answers}))).await;
        assert_eq!(status, 202, "{body}");
    }
    for score in [5, 4] {
        let rating = with(here.clone(), json!({"scale": "csat", "score": score}));
        assert_eq!(app.post("/api/v1/feedback", &rating).await.0, 202);
    }
    let letter = json!({"journey": "scrap-metal-licensing", "stage": "onsite_assessment", "touchpoint": "email",
                        "questions": true});
    assert_eq!(app.post_staff("/api/v1/email-links", &letter).await.0, 202);
    assert_eq!(wait_for_rolled_up(&app.storage, "offers", 15).await, 15);
    assert_eq!(wait_for_rolled_up(&app.storage, "answers", 3).await, 3);
    assert_eq!(wait_for_rolled_up(&app.storage, "feedback", 2).await, 2);
}

#[tokio::test]
async fn each_criterion_is_its_own_measure_and_the_response_rate_counts_who_was_asked() {
    let app = spawn_app_with_min_answers(3).await;
    seed(&app).await;
    let token = analyst_token(&app.storage).await;

    let (status, figures) = app.get_as(&token, "/api/v1/journeys/scrap-metal-licensing/official?period=7").await;

    assert_eq!(status, 200, "{figures}");
    let criteria = figures["criteria"].as_array().unwrap();
    let order: Vec<&str> = criteria.iter().map(|c| c["question"].as_str().unwrap()).collect();
    assert_eq!(order, ["time", "staff", "premises"], "the set's order; questions nobody answered are absent");
    let staff = &criteria[1];
    assert_eq!(staff["n"], 3);
    assert_eq!(staff["counts"], json!([0, 1, 0, 2, 0]));
    assert!((staff["mean"].as_f64().unwrap() - 10.0 / 3.0).abs() < 1e-9, "{staff}");
    assert_eq!(staff["text"]["ru"], "Вежливость и компетентность сотрудника");
    let reach = figures["reach"].as_array().unwrap();
    let in_person = reach.iter().find(|r| r["touchpoint"] == "in_person").unwrap();
    assert_eq!((in_person["shown"].as_u64(), in_person["opened"].as_u64()), (Some(10), Some(4)));
    assert_eq!((in_person["ratings"].as_u64(), in_person["sets"].as_u64()), (Some(2), Some(3)));
    assert_eq!(in_person["rate"], 0.5, "5 answers for 10 showings");
    let email = reach.iter().find(|r| r["touchpoint"] == "email").unwrap();
    assert_eq!((email["sent"].as_u64(), email["answered"].as_u64()), (Some(1), Some(0)));
    assert_eq!(email["rate"], 0.0, "asked and not (yet) answered: a rate of zero, visible");

    // A call is an offer at the phone touchpoint; a view of another touchpoint has none.
    let call = json!({"event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 5, "talk_seconds": 60,
        "transfers": 0, "resolved": true, "process": "consulting", "operator": "op-1",
        "journey": "scrap-metal-licensing", "stage": "onsite_assessment",
        "answers": [{"question": "staff", "score": 5}]});
    assert_eq!(app.post_staff("/api/v1/calls", &call).await.0, 202);
    // The shipper inserts each table of a round in turn: wait for the last the call adds to.
    wait_for_rolled_up(&app.storage, "calls", 1).await;
    wait_for_rolled_up(&app.storage, "answers", 4).await;
    wait_for_rolled_up(&app.storage, "offers", 16).await;
    let (_, all) = app.get_as(&token, "/api/v1/journeys/scrap-metal-licensing/official?period=7").await;
    let phone = all["reach"].as_array().unwrap().iter().find(|r| r["touchpoint"] == "phone").cloned().unwrap();
    assert_eq!(
        (phone["calls"].as_u64(), phone["sets"].as_u64(), phone["rate"].as_f64()),
        (Some(1), Some(1), Some(1.0))
    );
    let standards = &all["standards"];
    assert_eq!((standards["calls"].as_u64(), standards["calls_within_transfers"].as_u64()), (Some(1), Some(1)));
    let path = "/api/v1/journeys/scrap-metal-licensing/official?period=7&touchpoint=in_person";
    let (_, in_person) = app.get_as(&token, path).await;
    assert!(in_person["reach"].as_array().unwrap().iter().all(|r| r["touchpoint"] == "in_person"), "{in_person}");
}

#[tokio::test]
async fn the_report_gives_the_same_numbers_as_a_page_a_workbook_and_csv() {
    let app = spawn_app_with_min_answers(3).await;
    seed(&app).await;
    let token = analyst_token(&app.storage).await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.address)).bearer_auth(&token).send();

    // The journey map shows the rates per stage and touchpoint too.
    let map = get("/dashboard/scrap-metal-licensing?period=7").await.unwrap().text().await.unwrap();
    assert!(
        map.contains("Ответили из опрошенных") && map.contains("Личное взаимодействие: 5 из 10 опрошенных (50%)"),
        "{map}"
    );

    let page = get("/dashboard/scrap-metal-licensing/official?period=7&lang=en").await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Politeness and competence of the employee") && html.contains("3.33"), "{html}");
    assert!(html.contains("Response rates") && html.contains("50"), "the rate in %");

    let csv = get("/dashboard/scrap-metal-licensing/official.csv?period=7&table=0").await.unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    let staff = text.lines().find(|l| l.contains("Вежливость")).unwrap();
    assert!(staff.contains("\"3\",\"3.33\"") && staff.ends_with("\"0\",\"1\",\"0\",\"2\",\"0\""), "{staff}");

    let a11 = get("/dashboard/scrap-metal-licensing/official.csv?period=7&layout=a11").await.unwrap();
    let text = a11.text().await.unwrap();
    let staff = text.lines().find(|l| l.contains("Вежливость")).unwrap();
    assert!(staff.ends_with("\"0\",\"1\",\"0\",\"2\",\"0\",\"3\""), "count of each answer, then the total: {staff}");

    // The quarterly report: the quarter the seeded answers fall in (an hour ago).
    let at =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(ago(3600).0.into()));
    let (year, month): (String, u32) = (at.to_string()[..4].into(), at.to_string()[5..7].parse().unwrap());
    let quarter = format!("{year}-Q{}", (month - 1) / 3 + 1);
    let path = format!("/dashboard/scrap-metal-licensing/official.csv?layout=a11&quarter={quarter}");
    let text = get(&path).await.unwrap().text().await.unwrap();
    let staff = text.lines().find(|l| l.contains("Вежливость")).unwrap();
    assert!(staff.ends_with("\"0\",\"1\",\"0\",\"2\",\"0\",\"3\""), "{quarter}: {staff}");
    let wrong = get("/dashboard/scrap-metal-licensing/official?quarter=2026-Q9").await.unwrap();
    assert_eq!(wrong.status(), 422);

    let xlsx = get("/dashboard/scrap-metal-licensing/official.xlsx?period=7").await.unwrap();
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.headers()["content-type"].to_str().unwrap().contains("spreadsheetml"));
    let bytes = xlsx.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "a zip, as XLSX is");
    let wrong = get("/dashboard/scrap-metal-licensing/official.csv?table=9").await.unwrap();
    assert_eq!(wrong.status(), 422);
}

#[tokio::test]
async fn a_rate_is_never_above_a_hundred_and_answers_no_offer_counted_are_told_apart() {
    let app = spawn_app_with_min_answers(3).await;
    // One showing of the widget, three ratings: two came from the site's own form.
    let site = place("information_search", "site");
    assert_eq!(
        app.post("/api/v1/offers", &with(site.clone(), json!({"kind": "shown", "question_set": false}))).await.0,
        202
    );
    for score in [5, 4, 3] {
        assert_eq!(
            app.post("/api/v1/feedback", &with(site.clone(), json!({"scale": "csat", "score": score}))).await.0,
            202
        );
    }
    // Ratings where nothing counts offers at all.
    let epgu = place("application", "epgu");
    for score in [5, 4] {
        assert_eq!(
            app.post("/api/v1/feedback", &with(epgu.clone(), json!({"scale": "csat", "score": score}))).await.0,
            202
        );
    }
    wait_for_rolled_up(&app.storage, "offers", 1).await;
    wait_for_rolled_up(&app.storage, "feedback", 5).await;
    let token = analyst_token(&app.storage).await;
    let (status, official) = app.get_as(&token, "/api/v1/journeys/scrap-metal-licensing/official?period=7").await;
    assert_eq!(status, 200, "{official}");
    let cell =
        |stage: &str| official["reach"].as_array().unwrap().iter().find(|r| r["stage"] == stage).unwrap().clone();
    let site = cell("information_search");
    assert_eq!(
        (
            site["offered"].as_u64(),
            site["answered"].as_u64(),
            site["answered_offered"].as_u64(),
            site["unoffered"].as_u64()
        ),
        (Some(1), Some(3), Some(1), Some(2)),
        "{site}"
    );
    assert_eq!(site["rate"], 1.0, "never above 100 %");
    let epgu = cell("application");
    assert_eq!((epgu["rate"].clone(), epgu["unoffered"].as_u64()), (Value::Null, Some(2)), "blank, not 2 of 0");
    let response = app
        .http
        .get(format!("{}/dashboard/scrap-metal-licensing?period=7", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let page = response.text().await.unwrap();
    assert!(page.contains("1 из 1 опрошенных (100%); 2 ещё без учтённого предложения"), "{page}");
    assert!(page.contains("ЕПГУ): 2 ответили, предложений не учтено"), "{page}");
    assert!(!page.contains("300%") && !page.contains("из 0 опрошенных (inf"), "{page}");
    app.stop().await;
}
