//! Working days by Russia's production calendar, for deadlines such as "answer
//! within 5 working days".
//!
//! The calendar is data (`calendar.toml` beside the register, written by
//! `scripts/production_calendar.py` and editable): per year the days off and
//! the weekend days worked instead. A year it does not list falls back to the
//! fixed public holidays of the Labour Code (art. 112) and plain weekends.
//! A term counts from the day after the event (Civil Code art. 191) and ends
//! with the last of its working days, so a deadline is the end of that day in
//! the ministry's time zone.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

/// File name of the calendar inside the catalog folder.
pub const CALENDAR_FILE: &str = "calendar.toml";

/// Labour Code art. 112: the public holidays, every year.
const FIXED_HOLIDAYS: [(Month, u8); 14] = [
    (Month::January, 1),
    (Month::January, 2),
    (Month::January, 3),
    (Month::January, 4),
    (Month::January, 5),
    (Month::January, 6),
    (Month::January, 7),
    (Month::January, 8),
    (Month::February, 23),
    (Month::March, 8),
    (Month::May, 1),
    (Month::May, 9),
    (Month::June, 12),
    (Month::November, 4),
];

#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct CalendarError {
    pub file: String,
    /// The offending key, e.g. `years.2026.working_weekends`.
    pub key: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    years: BTreeMap<String, YearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    /// Days not worked: public holidays and the days off the decree moves.
    days_off: Vec<String>,
    /// Saturdays and Sundays the decree makes working days.
    working_weekends: Vec<String>,
}

/// A listed year's working days, one bit per day of the year: a deadline
/// asks about a dozen days for each case a rating opens.
#[derive(Debug, Default, Clone)]
struct Year {
    working: [u64; 6],
}

impl Year {
    fn new(year: i32, days_off: &HashSet<Date>, working_weekends: &HashSet<Date>) -> Year {
        let mut working = [0u64; 6];
        let mut day = Date::from_calendar_date(year, Month::January, 1).ok();
        while let Some(d) = day.filter(|d| d.year() == year) {
            if working_weekends.contains(&d) || (!is_weekend(d) && !days_off.contains(&d)) {
                let i = usize::from(d.ordinal());
                working[i / 64] |= 1 << (i % 64);
            }
            day = d.next_day();
        }
        Year { working }
    }

    fn is_working(&self, day: Date) -> bool {
        let i = usize::from(day.ordinal());
        self.working[i / 64] >> (i % 64) & 1 == 1
    }
}

/// Which days are worked. Empty (no year listed), it knows the fixed holidays only.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

impl Calendar {
    /// Reads `calendar.toml` from the catalog folder.
    pub fn load(dir: &Path) -> Result<Calendar, CalendarError> {
        let path = dir.join(CALENDAR_FILE);
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| CalendarError {
            file: file.clone(),
            key: String::new(),
            message: e.to_string(),
        })?;
        Calendar::parse(&text).map_err(|(key, message)| CalendarError { file, key, message })
    }

    /// Parses the TOML of a calendar file; an error names its key.
    pub fn parse(text: &str) -> Result<Calendar, (String, String)> {
        let file: File = toml::from_str(text).map_err(|e| (String::new(), e.message().to_string()))?;
        let mut years = BTreeMap::new();
        for (name, listed) in file.years {
            let key = format!("years.{name}");
            let year: i32 = name.parse().map_err(|_| (key.clone(), "a year is four digits".to_string()))?;
            let days_off = dates(&listed.days_off, year, &format!("{key}.days_off"))?;
            let working_weekends = dates(&listed.working_weekends, year, &format!("{key}.working_weekends"))?;
            if let Some(day) = working_weekends.iter().find(|d| !is_weekend(**d)) {
                return Err((format!("{key}.working_weekends"), format!("{day} is not a Saturday or Sunday")));
            }
            if let Some(day) = working_weekends.intersection(&days_off).next() {
                return Err((key, format!("{day} is listed both as a day off and as a working day")));
            }
            years.insert(year, Year::new(year, &days_off, &working_weekends));
        }
        Ok(Calendar { years })
    }

    /// The years the file lists, first and last.
    pub fn years(&self) -> Option<(i32, i32)> {
        Some((*self.years.keys().next()?, *self.years.keys().next_back()?))
    }

    pub fn is_working(&self, day: Date) -> bool {
        match self.years.get(&day.year()) {
            Some(year) => year.is_working(day),
            None => !is_weekend(day) && !is_fixed_holiday(day),
        }
    }

    /// The end of the `working_days`th working day after the day of `from`
    /// where days begin at `offset` (the ministry's time zone): the moment
    /// the next day begins. Zero days: the end of `from`'s own day.
    pub fn deadline(&self, from: SystemTime, working_days: u32, offset: UtcOffset) -> SystemTime {
        let mut day = day_of(from, offset);
        let mut left = working_days;
        while left > 0 {
            day = day.next_day().expect("a deadline within the calendar's range");
            if self.is_working(day) {
                left -= 1;
            }
        }
        let next = day.next_day().expect("a deadline within the calendar's range");
        let end = next.midnight().assume_offset(offset).unix_timestamp();
        SystemTime::UNIX_EPOCH + Duration::from_secs(end.max(0) as u64)
    }
}

/// The calendar day at `at` where days begin at `offset`.
pub fn day_of(at: SystemTime, offset: UtcOffset) -> Date {
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH).to_offset(offset).date()
}

fn dates(items: &[String], year: i32, key: &str) -> Result<HashSet<Date>, (String, String)> {
    items
        .iter()
        .map(|item| {
            let day =
                parse_date(item).ok_or_else(|| (key.to_string(), format!("{item:?} is not a date YYYY-MM-DD")))?;
            if day.year() != year {
                return Err((key.to_string(), format!("{item} is not in {year}")));
            }
            Ok(day)
        })
        .collect()
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

fn is_weekend(day: Date) -> bool {
    matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn is_fixed_holiday(day: Date) -> bool {
    FIXED_HOLIDAYS.iter().any(|&(m, d)| day.month() == m && day.day() == d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSK: UtcOffset = match UtcOffset::from_hms(3, 0, 0) {
        Ok(offset) => offset,
        Err(_) => panic!("a valid offset"),
    };

    fn day(text: &str) -> Date {
        parse_date(text).unwrap()
    }

    fn at(text: &str, hour: u8) -> SystemTime {
        let t = day(text).with_hms(hour, 0, 0).unwrap().assume_offset(MSK).unix_timestamp();
        SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64)
    }

    fn calendar() -> Calendar {
        Calendar::parse(
            r#"[years.2024]
               days_off = ["2024-04-29", "2024-04-30", "2024-05-01"]
               working_weekends = ["2024-04-27"]"#,
        )
        .unwrap()
    }

    #[test]
    fn listed_days_override_the_weekdays() {
        let c = calendar();
        assert!(c.is_working(day("2024-04-27")), "a Saturday made a working day");
        assert!(!c.is_working(day("2024-04-29")), "a Monday made a day off");
        assert!(!c.is_working(day("2024-04-28")), "a plain Sunday");
        assert!(c.is_working(day("2024-05-02")));
    }

    #[test]
    fn a_term_starts_the_next_day_and_skips_what_is_not_worked() {
        let c = calendar();
        // Friday evening, 1 working day: Saturday 27th is worked.
        assert_eq!(c.deadline(at("2024-04-26", 20), 1, MSK), at("2024-04-28", 0));
        // Saturday 27th, 1 working day: Sunday, then 29 April – 1 May off, so Thursday 2nd.
        assert_eq!(c.deadline(at("2024-04-27", 10), 1, MSK), at("2024-05-03", 0));
        assert_eq!(c.deadline(at("2024-04-27", 10), 0, MSK), at("2024-04-28", 0));
    }

    #[test]
    fn the_day_is_the_ministrys() {
        let c = calendar();
        // 22:00 UTC on Thursday 25 April is already Friday in Moscow.
        let late = at("2024-04-26", 1);
        assert_eq!(day_of(late, MSK), day("2024-04-26"));
        assert_eq!(day_of(late, UtcOffset::UTC), day("2024-04-25"));
        assert_eq!(c.deadline(late, 1, MSK), at("2024-04-28", 0));
    }

    #[test]
    fn unlisted_years_keep_the_fixed_holidays() {
        let c = calendar();
        assert!(!c.is_working(day("2031-01-02")), "New Year holidays");
        assert!(!c.is_working(day("2031-06-12")), "Russia Day, a Thursday");
        assert!(c.is_working(day("2031-06-13")));
        assert!(!c.is_working(day("2031-06-14")), "a Saturday");
    }

    #[test]
    fn a_bad_file_names_its_key() {
        let bad = |text: &str| Calendar::parse(text).unwrap_err().0;
        assert_eq!(
            bad(r#"[years.2024]
days_off = ["2024-13-01"]
working_weekends = []"#),
            "years.2024.days_off"
        );
        assert_eq!(
            bad(r#"[years.2024]
days_off = []
working_weekends = ["2024-04-26"]"#),
            "years.2024.working_weekends"
        );
        assert_eq!(
            bad(r#"[years.2024]
days_off = ["2025-01-01"]
working_weekends = []"#),
            "years.2024.days_off"
        );
    }
}
