//! The shipped production calendar against its source, PyPI's `holidays`.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::{Date, Duration, Weekday};
use touchpoint::domain::calendar::{Calendar, parse_date};

use crate::support::repo;

#[derive(Deserialize)]
struct Year {
    days_off: Vec<String>,
    working_weekends: Vec<String>,
}

#[test]
fn the_shipped_calendar_is_the_one_the_holidays_package_lists() {
    let calendar = Calendar::load(&repo().join("dashboards")).unwrap();
    let (first, last) = calendar.years().expect("the calendar lists years");
    assert!(first <= 2024 && last >= 2027, "the calendar covers 2024–2027, lists {first}–{last}");
    let years: Vec<String> = (first..=last).map(|y| y.to_string()).collect();
    let output = std::process::Command::new("python3")
        .arg(repo().join("scripts/production_calendar.py"))
        .arg("--json")
        .args(&years)
        .output()
        .expect("python3 runs (./scripts/test.sh installs it and PyPI's holidays)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let source: BTreeMap<String, Year> = serde_json::from_slice(&output.stdout).unwrap();
    for (year, listed) in source {
        let off: Vec<Date> = listed.days_off.iter().map(|d| parse_date(d).unwrap()).collect();
        let worked: Vec<Date> = listed.working_weekends.iter().map(|d| parse_date(d).unwrap()).collect();
        let mut day = Date::from_ordinal_date(year.parse().unwrap(), 1).unwrap();
        let mut working = 0;
        while day.year().to_string() == year {
            let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
            let expected = worked.contains(&day) || (!weekend && !off.contains(&day));
            assert_eq!(calendar.is_working(day), expected, "{day}");
            working += expected as u32;
            day += Duration::days(1);
        }
        // The production calendar's own total, as a cross-check of both.
        let total = match year.as_str() {
            "2024" => Some(248),
            "2025" => Some(247),
            "2026" => Some(247),
            _ => None,
        };
        if let Some(total) = total {
            assert_eq!(working, total, "working days in {year}");
        }
    }
    // Days off moved from Saturdays by the 2026 decree.
    for moved in ["2026-01-09", "2026-12-31"] {
        assert!(!calendar.is_working(parse_date(moved).unwrap()), "{moved}");
    }
}
