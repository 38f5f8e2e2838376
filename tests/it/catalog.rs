//! Journey and register files: every mistake is reported with file, entry and field.

use std::path::Path;

use touchpoint::Application;
use touchpoint::journeys::{Catalog, CatalogError};

use crate::support::{repo, scratch, test_config};

/// A copy of the shipped catalog, with `edit` applied to the journey file.
fn catalog_with_journey(edit: impl FnOnce(String) -> String) -> std::path::PathBuf {
    let dir = scratch("catalog");
    std::fs::create_dir_all(dir.join("journeys")).unwrap();
    std::fs::copy(repo().join("dashboards/register.toml"), dir.join("register.toml")).unwrap();
    let journey = std::fs::read_to_string(repo().join("dashboards/journeys/scrap-metal-licensing.toml")).unwrap();
    std::fs::write(dir.join("journeys/scrap-metal-licensing.toml"), edit(journey)).unwrap();
    dir
}

fn errors(dir: &Path) -> Vec<CatalogError> {
    Catalog::load(dir).expect_err("the catalog is invalid").0
}

#[test]
fn the_shipped_catalog_is_valid() {
    let catalog = Catalog::load(&repo().join("dashboards")).unwrap();
    assert_eq!(catalog.journeys().count(), 1);
    assert_eq!(catalog.register.touchpoints.len(), 14);
    assert_eq!(catalog.calendar.years(), Some((2024, 2027)));
}

#[test]
fn a_broken_calendar_is_reported_with_its_key_and_a_missing_one_falls_back() {
    let dir = catalog_with_journey(|j| j);
    let fallback = Catalog::load(&dir).expect("no calendar.toml: the fixed holidays");
    assert_eq!(fallback.calendar.years(), None);

    let shipped = std::fs::read_to_string(repo().join("dashboards/calendar.toml")).unwrap();
    std::fs::write(dir.join("calendar.toml"), shipped.replacen("\"2024-04-27\"", "\"2024-04-26\"", 1)).unwrap();
    let errors = errors(&dir);

    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].file.ends_with("calendar.toml"));
    assert_eq!(errors[0].field, "years.2024.working_weekends");
    assert!(errors[0].message.contains("2024-04-26"), "{}", errors[0]);
}

#[test]
fn a_stage_whose_cases_no_unit_would_work_is_reported() {
    let dir = catalog_with_journey(|j| j.replace("[cases]\nunit = \"general\"\n", ""));

    let errors = errors(&dir);

    let stages: Vec<(&str, &str)> = errors.iter().map(|e| (e.entry.as_str(), e.field.as_str())).collect();
    assert_eq!(
        stages,
        [
            ("stages[0] \"information_search\"", "unit"),
            ("stages[1] \"preparation\"", "unit"),
            ("stages[3] \"onsite_assessment\"", "unit"),
            ("stages[4] \"service_result\"", "unit"),
        ],
        "application names its own: {errors:?}"
    );
    assert!(errors[0].message.contains("no unit"), "{}", errors[0]);
}

#[test]
fn case_rules_naming_a_tag_no_stage_offers_are_reported() {
    let dir = catalog_with_journey(|j| format!("{j}tags = [\"rude\"]\nces_at_most = 9\n"));

    let errors = errors(&dir);

    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.entry.as_str(), e.field.as_str())).collect();
    assert_eq!(fields, [("cases", "ces_at_most"), ("cases", "tags")], "{errors:?}");
    assert!(errors[1].message.contains("\"rude\""), "{}", errors[1]);
}

#[test]
fn a_stage_naming_an_unknown_touchpoint_is_reported_with_file_and_name() {
    let dir = catalog_with_journey(|j| j.replacen("touchpoints = [\"epgu\"]", "touchpoints = [\"epgu\", \"fax\"]", 1));

    let errors = errors(&dir);

    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.file.ends_with("journeys/scrap-metal-licensing.toml"));
    assert_eq!(e.entry, "stages[2] \"application\"");
    assert_eq!(e.field, "touchpoints");
    assert!(e.message.contains("\"fax\""), "{e}");
}

#[test]
fn a_misspelt_key_is_reported_with_its_line() {
    let dir = catalog_with_journey(|j| j.replacen("emotion = \"neutral\"", "emotoin = \"neutral\"", 1));

    let message = errors(&dir)[0].to_string();

    assert!(message.contains("scrap-metal-licensing.toml"), "{message}");
    assert!(message.contains("emotoin"), "{message}");
    assert!(message.contains("line"), "{message}");
}

#[test]
fn duplicate_stages_bad_ids_and_a_mismatched_file_name_are_all_reported_at_once() {
    let dir = catalog_with_journey(|j| {
        j.replacen("id = \"preparation\"", "id = \"information_search\"", 1)
            .replacen("id = \"onsite_assessment\"", "id = \"On Site\"", 1)
            .replacen("id = \"scrap-metal-licensing\"", "id = \"scrap\"", 1)
    });

    let errors = errors(&dir);

    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.entry.as_str(), e.field.as_str())).collect();
    assert!(fields.contains(&("", "id")), "{fields:?}");
    assert!(fields.contains(&("stages[1] \"information_search\"", "id")), "{fields:?}");
    assert!(fields.contains(&("stages[3] \"On Site\"", "id")), "{fields:?}");
}

#[test]
fn a_missing_register_is_reported() {
    let dir = catalog_with_journey(|j| j);
    std::fs::remove_file(dir.join("register.toml")).unwrap();

    let errors = errors(&dir);

    assert!(errors[0].file.ends_with("register.toml"), "{errors:?}");
}

#[tokio::test]
async fn the_service_refuses_to_start_on_an_invalid_journey() {
    let mut config = test_config();
    config.dashboards_dir =
        catalog_with_journey(|j| j.replacen("touchpoints = [\"in_person\"]", "touchpoints = [\"court\"]", 1));

    let Err(error) = Application::build(&config).await else { panic!("the app started on an invalid journey") };

    let message = format!("{error:#}");
    assert!(message.contains("scrap-metal-licensing.toml") && message.contains("\"court\""), "{message}");
}
