//! Question sets (issue 18): the five "Ваш контроль" criteria and a stage's
//! own questions, through the API, the no-JavaScript form, a letter's link
//! and the phone log; each criterion its own measure in the rollup.

use serde_json::{Value, json};
use touchpoint::storage::rows::AnswersRow;
use uuid::Uuid;

use crate::support::{TestApp, ago, spawn_app, wait_for_rolled_up, wait_for_rows};

/// A response at the on-site assessment, whose stage asks the five criteria.
fn response(answers: Value) -> Value {
    json!({
        "event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "onsite_assessment", "touchpoint": "in_person", "answers": answers,
        "occurred_at": ago(3600).1,
    })
}

async fn stored(app: &TestApp) -> Vec<AnswersRow> {
    app.storage.client().query("SELECT ?fields FROM answers FINAL ORDER BY received_at").fetch_all().await.unwrap()
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Deserialize)]
struct Criterion {
    question: String,
    responses: i64,
    n: i64,
    sum: i64,
    counts: Vec<i64>,
}

async fn criteria(app: &TestApp) -> Vec<Criterion> {
    let sql = "SELECT question, sum(responses) AS responses, sum(n) AS n, sum(sum) AS sum, \
               [sum(n1), sum(n2), sum(n3), sum(n4), sum(n5)] AS counts \
               FROM answers_daily GROUP BY question ORDER BY question";
    app.storage.client().query(sql).fetch_all().await.unwrap()
}

#[tokio::test]
async fn a_partial_set_is_stored_as_sent_and_each_criterion_is_its_own_measure() {
    let app = spawn_app().await;
    let full = json!([
        {"question": "time", "score": 5}, {"question": "queue", "score": 4}, {"question": "staff", "score": 5},
        {"question": "premises", "score": 3}, {"question": "information", "score": 4}
    ]);
    // Skipped questions: one left out, one sent as null.
    let partial = json!([{"question": "staff", "score": 2}, {"question": "time", "score": null}, {"question": "queue", "score": 1}]);
    for body in [response(full), response(partial.clone()), response(partial)] {
        let (status, reply) = app.post("/api/v1/answers", &body).await;
        assert_eq!(status, 202, "{reply}");
    }

    assert_eq!(wait_for_rolled_up(&app.storage, "answers", 3).await, 3);
    let rows = stored(&app).await;
    let partial = rows.iter().find(|r| r.questions.len() == 2).unwrap();
    assert_eq!(partial.questions, ["queue", "staff"], "in the set's order, the skipped one absent");
    assert_eq!(partial.scores, [1, 2]);
    assert_eq!((partial.question_set.as_str(), partial.channel.as_str()), ("vk5", "in_person"));
    let got = criteria(&app).await;
    let staff = got.iter().find(|c| c.question == "staff").unwrap();
    // staff: 5, 2, 2.
    assert_eq!((staff.n, staff.sum, staff.counts.clone()), (3, 9, vec![0, 2, 0, 0, 1]), "{got:?}");
    assert_eq!(got.iter().find(|c| c.question == "time").unwrap().n, 1, "a skip is not a score");
    assert_eq!(got.iter().find(|c| c.question == "premises").unwrap().counts, [0, 0, 1, 0, 0]);
    assert_eq!(got.iter().map(|c| c.responses).sum::<i64>(), 3, "one response counted once, whatever it answered");
    // A low answer opens a case, as a low rating does.
    let cases: u64 = app.storage.client().query("SELECT count() FROM cases").fetch_one().await.unwrap();
    assert!(cases >= 1, "a 1 for the queue opened a case");
}

#[tokio::test]
async fn a_wrong_answer_is_a_422_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    let cases = [
        (json!([{"question": "time", "score": 6}]), "answers[0].score"),
        (json!([{"question": "time", "score": 4}, {"score": 3}]), "answers[1].question"),
        (json!([{"question": "speed", "score": 3}]), "answers[0].question"),
        (json!([{"question": "time", "score": 3}, {"question": "time", "score": 4}]), "answers[1].question"),
        (json!([]), "answers"),
    ];
    for (answers, field) in cases {
        let (status, body) = app.post("/api/v1/answers", &response(answers)).await;
        assert_eq!((status.as_u16(), body["error"]["field"].as_str()), (422, Some(field)), "{body}");
    }
    let mut elsewhere = response(json!([{"question": "time", "score": 4}]));
    elsewhere["stage"] = json!("application");
    elsewhere["touchpoint"] = json!("epgu");
    let (status, body) = app.post("/api/v1/answers", &elsewhere).await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("stage")),
        "a stage without a set: {body}"
    );
    let custom = json!([{"question": "on_time", "score": 4}]);
    let (status, body) = app.post("/api/v1/answers", &response(custom)).await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("answers[0].question")),
        "another stage's question"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn the_no_javascript_set_form_posts_the_stages_own_questions() {
    let app = spawn_app().await;
    let page = app.get("/embed/demo/scrap-metal-licensing/service_result/questions?lang=en").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for q in ["a.result_clear", "a.on_time", "a.status_updates"] {
        assert!(html.contains(&format!("name=\"{q}\"")), "{q} in {html}");
    }
    assert!(!html.contains("required"), "any question may be skipped");
    let event_id = html.split("name=\"event_id\" value=\"").nth(1).unwrap()[..36].to_string();
    let form = [
        ("event_id", event_id.as_str()),
        ("site", "demo"),
        ("journey", "scrap-metal-licensing"),
        ("stage", "service_result"),
        ("touchpoint", "epgu"),
        ("locale", "en"),
        ("a.result_clear", "4"),
        ("a.on_time", ""),
        ("a.status_updates", "2"),
        ("comment", "slow updates"),
    ];
    let reply = app.http.post(format!("{}/api/v1/answers", app.address)).form(&form).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.text().await.unwrap().contains("Thank you"));

    assert_eq!(wait_for_rows(&app.storage, "answers", 1).await, 1);
    let row = stored(&app).await.remove(0);
    assert_eq!((row.question_set.as_str(), row.comment.as_str()), ("custom", "slow updates"));
    assert_eq!(
        (row.questions.clone(), row.scores.clone()),
        (vec!["result_clear".into(), "status_updates".into()], vec![4, 2])
    );

    let bad = [
        ("event_id", event_id.as_str()),
        ("site", "demo"),
        ("journey", "scrap-metal-licensing"),
        ("stage", "service_result"),
        ("touchpoint", "epgu"),
        ("a.on_time", "9"),
    ];
    let reply = app.http.post(format!("{}/api/v1/answers", app.address)).form(&bad).send().await.unwrap();
    assert_eq!(reply.status(), 422, "a page that says what is wrong");
    let missing = app.get("/embed/demo/scrap-metal-licensing/application/questions").await;
    assert_eq!(missing.status(), 404, "a stage without a set has no set form");
}

#[tokio::test]
async fn one_link_in_a_letter_opens_the_set_and_the_first_response_is_kept() {
    let app = spawn_app().await;
    let request = json!({"journey": "scrap-metal-licensing", "stage": "onsite_assessment",
        "touchpoint": "email", "questions": true});
    let (status, body) = app.post_staff("/api/v1/email-links", &request).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["links"], json!([]));
    let url = body["questions_url"].as_str().unwrap().to_string();
    assert!(body["html"].as_str().unwrap().contains(&url));

    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"a.premises\"") && html.contains("очень плохо"), "{html}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(stored(&app).await.is_empty(), "opening the link records nothing");

    let first = app.http.post(&url).form(&[("a.time", "5"), ("a.staff", "4")]).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let again = app.http.post(&url).form(&[("a.time", "1")]).send().await.unwrap();
    assert_eq!(again.status(), 200);
    let wrong = app.http.post(&url).form(&[("a.time", "0")]).send().await.unwrap();
    assert_eq!(wrong.status(), 422);

    assert_eq!(wait_for_rows(&app.storage, "answers", 1).await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 1, "one letter, one response");
    assert_eq!((rows[0].site.as_str(), rows[0].scores.clone()), ("email", vec![5, 4]));
    assert_eq!(rows[0].event_id.to_string(), body["event_id"].as_str().unwrap());
}

#[tokio::test]
async fn a_call_carries_the_clients_answers_under_its_own_id() {
    let app = spawn_app().await;
    let call = json!({
        "event_id": Uuid::new_v4(), "started_at": ago(600).1, "wait_seconds": 20, "talk_seconds": 180,
        "transfers": 1, "resolved": true, "process": "consulting", "operator": "op-7",
        "journey": "scrap-metal-licensing", "stage": "onsite_assessment",
        "answers": [{"question": "staff", "score": 5}, {"question": "information", "score": 4}],
    });
    let (status, body) = app.post_staff("/api/v1/calls", &call).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app.post_staff("/api/v1/calls", &call).await;
    assert_eq!(status, 202, "a retry: {body}");
    assert_eq!(wait_for_rows(&app.storage, "answers", 1).await, 1);
    let row = stored(&app).await.remove(0);
    assert_eq!((row.channel.as_str(), row.touchpoint.as_str(), row.site.as_str()), ("phone", "phone", ""));
    assert_eq!(row.event_id.to_string(), call["event_id"].as_str().unwrap());

    let mut bad = call.clone();
    bad["event_id"] = json!(Uuid::new_v4());
    bad["answers"] = json!([{"question": "staff", "score": 7}]);
    let (status, body) = app.post_staff("/api/v1/calls", &bad).await;
    assert_eq!((status.as_u16(), body["error"]["field"].as_str()), (422, Some("answers[0].score")));
    let mut no_stage = call.clone();
    no_stage["event_id"] = json!(Uuid::new_v4());
    no_stage.as_object_mut().unwrap().remove("journey");
    no_stage.as_object_mut().unwrap().remove("stage");
    let (status, body) = app.post_staff("/api/v1/calls", &no_stage).await;
    assert_eq!((status.as_u16(), body["error"]["field"].as_str()), (422, Some("answers")));
}
