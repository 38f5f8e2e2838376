//! What opens a case: the rules a journey file sets under `[cases]`, with the
//! defaults below, applied to each event as it is accepted (`crate::cases`
//! opens it).

use serde::{Deserialize, Serialize};

use crate::domain::Scale;

/// `[cases]` of a journey file. Every key has a default; `[cases]` itself may
/// be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseRules {
    /// A csat rating (1–5) at or below this opens a case.
    pub csat_at_most: u8,
    /// An NPS rating (0–10) at or below this: a detractor.
    pub nps_at_most: u8,
    /// A CES rating at or below this. The scale asks whether it was easy
    /// (1–7, higher is easier), so a hard contact scores low.
    pub ces_at_most: u8,
    /// A thumbs down opens a case.
    pub thumbs_down: bool,
    /// A call transferred more often than this (the order's 3.2.4 allows two).
    pub transfers_over: u8,
    /// A rating carrying one of these tags opens a case whatever its score.
    pub tags: Vec<String>,
    /// Working days to acknowledge a case, counted from the day after it opened.
    pub acknowledge_within: u32,
    /// Working days the ministry has to acknowledge a client's letter (3.2.5):
    /// a letter still unacknowledged at the end of the last one opens a case.
    pub letter_acknowledge_within: u32,
    /// Working days to answer the client.
    pub answer_within: u32,
    /// The unit that works cases of stages that name none.
    pub unit: Option<String>,
}

impl Default for CaseRules {
    fn default() -> Self {
        CaseRules {
            csat_at_most: 2,
            nps_at_most: 6,
            ces_at_most: 3,
            thumbs_down: true,
            transfers_over: 2,
            tags: Vec::new(),
            acknowledge_within: 1,
            letter_acknowledge_within: 1,
            answer_within: 5,
            unit: None,
        }
    }
}

/// Why a case was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A score at or below the journey's threshold for its scale.
    LowScore,
    /// A tag the journey watches.
    Tag(String),
    /// More transfers than the phone standard allows.
    Transfers,
    /// A letter not acknowledged within `letter_acknowledge_within`.
    LateAcknowledgement,
}

impl CaseRules {
    /// Whether a rating opens a case, and why: a low score first, then a watched tag.
    pub fn rating(&self, scale: Scale, score: u8, tags: &[String]) -> Option<Reason> {
        let low = match scale {
            Scale::Csat => score <= self.csat_at_most,
            Scale::Nps => score <= self.nps_at_most,
            Scale::Ces => score <= self.ces_at_most,
            Scale::Thumbs => self.thumbs_down && score == 0,
        };
        if low {
            return Some(Reason::LowScore);
        }
        tags.iter().find(|t| self.tags.contains(t)).map(|t| Reason::Tag(t.clone()))
    }

    /// Whether a call opens a case by its transfers alone.
    pub fn call(&self, transfers: u8) -> Option<Reason> {
        (transfers > self.transfers_over).then_some(Reason::Transfers)
    }

    /// What is wrong with the rules, as (key, message); the tags a journey's
    /// stages offer are passed to check the watched ones.
    pub fn problems(&self, offered_tags: &[&str]) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, value, scale) in [
            ("csat_at_most", self.csat_at_most, Scale::Csat),
            ("nps_at_most", self.nps_at_most, Scale::Nps),
            ("ces_at_most", self.ces_at_most, Scale::Ces),
        ] {
            let (low, high) = scale.range();
            if value > high {
                problems.push((key, format!("{value} is above the scale's {low}–{high}")));
            }
        }
        for tag in &self.tags {
            if !offered_tags.contains(&tag.as_str()) {
                problems.push(("tags", format!("no stage of the journey offers tag {tag:?}")));
            }
        }
        if self.answer_within < self.acknowledge_within {
            problems.push(("answer_within", "the answer cannot be due before the acknowledgement".to_string()));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_open_a_case_for_a_bad_rating_only() {
        let rules = CaseRules::default();
        assert_eq!(rules.rating(Scale::Csat, 2, &[]), Some(Reason::LowScore));
        assert_eq!(rules.rating(Scale::Csat, 3, &[]), None);
        assert_eq!(rules.rating(Scale::Nps, 6, &[]), Some(Reason::LowScore));
        assert_eq!(rules.rating(Scale::Nps, 7, &[]), None);
        assert_eq!(rules.rating(Scale::Ces, 3, &[]), Some(Reason::LowScore), "hard: disagrees it was easy");
        assert_eq!(rules.rating(Scale::Ces, 5, &[]), None, "easy");
        assert_eq!(rules.rating(Scale::Thumbs, 0, &[]), Some(Reason::LowScore));
        assert_eq!(rules.rating(Scale::Thumbs, 1, &[]), None);
        assert_eq!(rules.call(2), None);
        assert_eq!(rules.call(3), Some(Reason::Transfers));
    }

    #[test]
    fn a_watched_tag_opens_a_case_whatever_the_score() {
        let rules = CaseRules { tags: vec!["rude".into()], thumbs_down: false, ..CaseRules::default() };
        assert_eq!(rules.rating(Scale::Csat, 5, &["fast".into(), "rude".into()]), Some(Reason::Tag("rude".into())));
        assert_eq!(rules.rating(Scale::Csat, 5, &["fast".into()]), None);
        assert_eq!(rules.rating(Scale::Thumbs, 0, &[]), None, "thumbs down switched off");
    }

    #[test]
    fn rules_out_of_range_or_naming_unknown_tags_are_reported() {
        let rules = CaseRules { csat_at_most: 6, tags: vec!["nope".into()], answer_within: 0, ..CaseRules::default() };
        let keys: Vec<&str> = rules.problems(&["hard_to_find"]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["csat_at_most", "tags", "answer_within"]);
        assert!(CaseRules::default().problems(&[]).is_empty());
    }
}
