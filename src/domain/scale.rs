//! Rating scales and the emotion a rating expresses.

use serde::{Deserialize, Serialize};

use super::Invalid;

/// Rating scales and their ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Satisfaction, 1–5.
    Csat,
    /// Likelihood to recommend, 0–10.
    Nps,
    /// Effort ("it was easy"), 1–7, higher is easier.
    Ces,
    /// 0 = thumbs down, 1 = thumbs up.
    Thumbs,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Csat => "csat",
            Scale::Nps => "nps",
            Scale::Ces => "ces",
            Scale::Thumbs => "thumbs",
        }
    }

    pub fn range(self) -> (u8, u8) {
        match self {
            Scale::Csat => (1, 5),
            Scale::Nps => (0, 10),
            Scale::Ces => (1, 7),
            Scale::Thumbs => (0, 1),
        }
    }

    /// The `Enum8` code of the `scale` column.
    pub fn code(self) -> i8 {
        match self {
            Scale::Csat => 1,
            Scale::Nps => 2,
            Scale::Ces => 3,
            Scale::Thumbs => 4,
        }
    }

    /// The score on 0–100, as migration 0006's rollup computes it.
    pub fn normalised(self, score: u8) -> f64 {
        let s = f64::from(score);
        match self {
            Scale::Csat => (s - 1.0) * 25.0,
            Scale::Nps => s * 10.0,
            Scale::Ces => (s - 1.0) * 100.0 / 6.0,
            Scale::Thumbs => s * 100.0,
        }
    }

    /// A scale by its `as_str` name.
    pub fn from_name(name: &str) -> Option<Scale> {
        [Scale::Csat, Scale::Nps, Scale::Ces, Scale::Thumbs].into_iter().find(|s| s.as_str() == name)
    }

    pub fn from_code(code: i8) -> Option<Scale> {
        [Scale::Csat, Scale::Nps, Scale::Ces, Scale::Thumbs].into_iter().find(|s| s.code() == code)
    }

    /// The emotion a score expresses when the client did not say.
    pub fn emotion(self, score: u8) -> Emotion {
        let (negative_below, positive_from) = match self {
            Scale::Csat => (3, 4),
            Scale::Nps => (7, 9),
            Scale::Ces => (4, 5),
            Scale::Thumbs => (1, 1),
        };
        if score < negative_below {
            Emotion::Negative
        } else if score >= positive_from {
            Emotion::Positive
        } else {
            Emotion::Neutral
        }
    }

    pub fn check(self, score: u8, field: &str) -> Result<u8, Invalid> {
        let (lo, hi) = self.range();
        if (lo..=hi).contains(&score) {
            Ok(score)
        } else {
            Err(Invalid::new(field, format!("a {self:?} score is {lo}–{hi}, not {score}").to_lowercase()))
        }
    }
}

/// What a client felt at a touchpoint: said, or derived from the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Emotion {
    Positive,
    Neutral,
    Negative,
}

impl Emotion {
    /// The `Enum8` code of the `emotion` columns.
    pub fn code(self) -> i8 {
        match self {
            Emotion::Negative => -1,
            Emotion::Neutral => 0,
            Emotion::Positive => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotion_follows_the_score_on_every_scale() {
        assert_eq!(Scale::Csat.emotion(2), Emotion::Negative);
        assert_eq!(Scale::Csat.emotion(3), Emotion::Neutral);
        assert_eq!(Scale::Csat.emotion(4), Emotion::Positive);
        assert_eq!(Scale::Nps.emotion(6), Emotion::Negative);
        assert_eq!(Scale::Nps.emotion(8), Emotion::Neutral);
        assert_eq!(Scale::Nps.emotion(9), Emotion::Positive);
        assert_eq!(Scale::Ces.emotion(3), Emotion::Negative);
        assert_eq!(Scale::Ces.emotion(4), Emotion::Neutral);
        assert_eq!(Scale::Thumbs.emotion(0), Emotion::Negative);
        assert_eq!(Scale::Thumbs.emotion(1), Emotion::Positive);
    }

    #[test]
    fn scores_outside_the_scale_are_refused() {
        assert!(Scale::Csat.check(0, "score").is_err());
        assert!(Scale::Nps.check(10, "score").is_ok());
        assert!(Scale::Ces.check(8, "score").is_err());
        assert!(Scale::Thumbs.check(2, "score").is_err());
    }
}
