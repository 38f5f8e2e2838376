use serde_json::Value;

use crate::support::spawn_app;

const JOURNEY: &str = "scrap-metal-licensing";

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_example_journey_is_listed() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/api/v1/journeys").await;

    assert_eq!(status, 200);
    assert_eq!(ids(&body["journeys"]), vec![JOURNEY]);
    assert_eq!(body["journeys"][0]["stages"], 5);
    assert!(body["journeys"][0]["name"]["ru"].as_str().unwrap().starts_with("Лицензирование деятельности"));
}

#[tokio::test]
async fn a_journey_lists_its_stages_in_order_with_touchpoints_resolved() {
    let app = spawn_app().await;

    let (status, body) = app.get_json(&format!("/api/v1/journeys/{JOURNEY}")).await;

    assert_eq!(status, 200);
    let stages = body["stages"].as_array().unwrap();
    assert_eq!(
        ids(&body["stages"]),
        vec!["information_search", "preparation", "application", "onsite_assessment", "service_result"]
    );
    assert_eq!(stages[0]["name"]["ru"], "Поиск информации о государственной услуге");
    assert_eq!(stages[0]["number"], 1);
    assert_eq!(ids(&stages[0]["touchpoints"]), vec!["in_person", "site", "phone", "info_materials"]);
    let epgu = &stages[2]["touchpoints"][0];
    assert_eq!(
        (epgu["id"].as_str(), epgu["channel"].as_str(), epgu["kind"].as_str()),
        (Some("epgu"), Some("epgu"), Some("digital"))
    );
    assert_eq!(stages[0]["metrics"][0], serde_json::json!({"kind": "time_spent", "target": "30m"}));
    assert_eq!(
        stages[0]["recommendations"][0]["ru"],
        "Реализовать единое цифровое пространство со всей необходимой информацией"
    );
    assert_eq!(stages[2]["experience"]["negative"][0]["en"], "No internet access, service outages");
    assert_eq!(ids(&stages[4]["touchpoints"]), vec!["epgu", "email"]);
}

#[tokio::test]
async fn an_unknown_journey_is_a_json_404() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/api/v1/journeys/no-such-journey").await;

    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["field"], "id");
    assert!(body["error"]["message"].as_str().unwrap().contains("no-such-journey"));
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404_and_every_answer_has_a_request_id() {
    let app = spawn_app().await;

    let response = app.get("/api/v1/nothing-here").await;

    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_register_lists_the_orders_touchpoints_and_processes() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/api/v1/touchpoints").await;

    assert_eq!(status, 200);
    let listed = ids(&body["touchpoints"]);
    // Section 4 of the Smolensk order: six digital and five offline touchpoints.
    let digital = ["site", "email", "social", "edms", "vks", "epgu"];
    let offline = ["phone", "post", "in_person", "internal_office", "internal_workplace"];
    for id in digital.iter().chain(&offline) {
        assert!(listed.contains(id), "{id} missing from {listed:?}");
    }
    let kind_of =
        |id: &str| body["touchpoints"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()["kind"].clone();
    assert!(digital.iter().all(|id| kind_of(id) == "digital"));
    assert!(offline.iter().all(|id| kind_of(id) == "offline"));
    assert_eq!(ids(&body["processes"]), vec!["informing", "consulting", "compliance_assessment", "pre_trial_appeal"]);
    assert_eq!(body["authority"]["ru"], "Министерство промышленности и торговли Смоленской области");
}
