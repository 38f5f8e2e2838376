//! What a recommendation of the lab aims to move at its stage (issue 16),
//! and which way is better.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The stage's score, 0–100 whatever the scale.
    StageScore,
    /// Time spent at the stage, measured and self-reported.
    TimeSpent,
    /// The share of the stage's answers with a negative emotion.
    NegativeShare,
    /// The share with a positive emotion.
    PositiveShare,
    /// The share of the stage's answers that carry a tag (`hard_to_find`).
    TagShare,
    /// The mean answer, 1–5, to one question of the stage's question set
    /// (a "Ваш контроль" criterion such as `queue`, or a custom question).
    Criterion,
}

/// Which way of a measure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aim {
    Up,
    Down,
}

impl Measure {
    pub const ALL: [Measure; 6] = [
        Measure::StageScore,
        Measure::TimeSpent,
        Measure::NegativeShare,
        Measure::PositiveShare,
        Measure::TagShare,
        Measure::Criterion,
    ];

    /// The `Enum8` code of `recommendations.measure`.
    pub fn code(self) -> i8 {
        match self {
            Measure::StageScore => 1,
            Measure::TimeSpent => 2,
            Measure::NegativeShare => 3,
            Measure::PositiveShare => 4,
            Measure::TagShare => 5,
            Measure::Criterion => 6,
        }
    }

    pub fn from_code(code: i8) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The better way, where the measure itself says it; a tag may name a
    /// problem (`hard_to_find`) or a praise (`staff_helped`), so its aim is
    /// given with it.
    pub fn natural_aim(self) -> Option<Aim> {
        match self {
            Measure::StageScore | Measure::PositiveShare | Measure::Criterion => Some(Aim::Up),
            Measure::TimeSpent | Measure::NegativeShare => Some(Aim::Down),
            Measure::TagShare => None,
        }
    }

    /// Whether the measure is a share of answers (its difference is in
    /// percentage points) rather than a mean.
    pub fn is_share(self) -> bool {
        matches!(self, Measure::NegativeShare | Measure::PositiveShare | Measure::TagShare)
    }
}

impl Aim {
    /// The `Enum8` code of `recommendations.aim`.
    pub fn code(self) -> i8 {
        match self {
            Aim::Up => 1,
            Aim::Down => -1,
        }
    }

    pub fn from_code(code: i8) -> Aim {
        if code < 0 { Aim::Down } else { Aim::Up }
    }
}
