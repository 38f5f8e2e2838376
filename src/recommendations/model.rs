//! A recommendation of the lab as a tracked item: its status, who carries it
//! out, when, and the measure it aims to move; checked once, here.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::calendar::parse_date;
use crate::domain::{Aim, Measure, Role};
use crate::error::ApiError;
use crate::journeys::id_problem;
use crate::journeys::model::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proposed,
    Accepted,
    InProgress,
    Implemented,
    /// Its measured effect confirmed by the lab.
    Verified,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Proposed,
        Status::Accepted,
        Status::InProgress,
        Status::Implemented,
        Status::Verified,
        Status::Rejected,
    ];

    /// The `Enum8` code of `recommendations.status`.
    pub fn code(self) -> i8 {
        Status::ALL.iter().position(|s| *s == self).unwrap_or(0) as i8 + 1
    }

    pub fn from_code(code: i8) -> Option<Status> {
        Status::ALL.get(usize::try_from(code - 1).ok()?).copied()
    }

    /// Where a recommendation may go from here (besides staying).
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Proposed => &[Status::Accepted, Status::Rejected],
            Status::Accepted => &[Status::InProgress, Status::Rejected],
            Status::InProgress => &[Status::Implemented, Status::Rejected],
            Status::Implemented => &[Status::Verified, Status::Rejected],
            Status::Verified | Status::Rejected => &[],
        }
    }

    /// Whether its effect is measured: it was carried out.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Implemented | Status::Verified)
    }
}

/// A recommendation as it stands (its newest version).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub id: Uuid,
    pub version: u32,
    pub journey: String,
    pub stage: String,
    #[schema(value_type = Object)]
    pub text: Text,
    pub status: Status,
    pub owner_unit: String,
    /// YYYY-MM-DD.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "iso")]
    pub planned_on: Option<time::Date>,
    /// YYYY-MM-DD: the day it was carried out.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "iso")]
    pub implemented_on: Option<time::Date>,
    pub measure: Measure,
    /// For `tag_share`: the tag.
    pub tag: String,
    /// For `criterion`: the question of the stage's set (`queue`).
    pub question: String,
    pub aim: Aim,
    pub window_days: u16,
    pub note: String,
    pub author: String,
    /// Unix seconds.
    pub changed_at: u32,
}

fn iso<S: serde::Serializer>(day: &Option<time::Date>, s: S) -> Result<S::Ok, S::Error> {
    match day {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

/// What a form or a JSON body may set; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The version the editor saw; a newer one stored since refuses the edit.
    pub version: Option<u32>,
    pub journey: Option<String>,
    pub stage: Option<String>,
    pub text_ru: Option<String>,
    pub text_en: Option<String>,
    pub status: Option<Status>,
    pub owner_unit: Option<String>,
    /// YYYY-MM-DD, or empty to clear.
    pub planned_on: Option<String>,
    pub implemented_on: Option<String>,
    pub measure: Option<Measure>,
    pub tag: Option<String>,
    pub question: Option<String>,
    pub aim: Option<Aim>,
    pub window_days: Option<u16>,
    pub note: Option<String>,
}

impl Edit {
    /// The edit with its free text cleaned like a client's (`domain::text`).
    pub fn cleaned(self) -> Edit {
        let clean = |t: Option<String>| t.map(crate::domain::text::clean);
        Edit {
            text_ru: clean(self.text_ru),
            text_en: clean(self.text_en),
            note: clean(self.note),
            planned_on: clean(self.planned_on),
            implemented_on: clean(self.implemented_on),
            ..self
        }
    }
}

/// The longest window: a year either side.
pub const MAX_WINDOW_DAYS: u16 = 366;
/// The window a new recommendation gets: four weeks, whole weekdays twice.
pub const DEFAULT_WINDOW_DAYS: u16 = 28;

fn date(field: &str, value: &str) -> Result<Option<time::Date>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    parse_date(value).map(Some).ok_or_else(|| ApiError::invalid(field, "a date as YYYY-MM-DD"))
}

/// Who may make an edit: analysts (the lab) anything; handlers of the owner
/// unit only their progress: in progress, implemented, the planned and the
/// actual day, a note.
pub fn may_edit(role: Role, units: &[String], before: &Recommendation, edit: &Edit) -> Result<(), ApiError> {
    match role {
        Role::Analyst => Ok(()),
        Role::Handler if units.contains(&before.owner_unit) => {
            let progress =
                edit.status.is_none_or(|s| s == before.status || matches!(s, Status::InProgress | Status::Implemented));
            let only_progress = edit.journey.is_none()
                && edit.stage.is_none()
                && edit.text_ru.is_none()
                && edit.text_en.is_none()
                && edit.owner_unit.is_none()
                && edit.measure.is_none()
                && edit.tag.is_none()
                && edit.question.is_none()
                && edit.aim.is_none()
                && edit.window_days.is_none();
            if progress && only_progress {
                Ok(())
            } else {
                Err(ApiError::Forbidden {
                    field: "status",
                    message:
                        "a unit reports its progress (in_progress, implemented and its day); the lab decides the rest"
                            .into(),
                })
            }
        }
        _ => Err(ApiError::Forbidden {
            field: "owner_unit",
            message: "only the lab's analysts and the handlers of the owner unit change a recommendation".into(),
        }),
    }
}

impl Recommendation {
    /// A new, proposed recommendation, before `edit` fills it in.
    pub fn blank(id: Uuid, author: &str, now: u32) -> Recommendation {
        Recommendation {
            id,
            version: 0,
            journey: String::new(),
            stage: String::new(),
            text: Text { ru: String::new(), en: String::new() },
            status: Status::Proposed,
            owner_unit: String::new(),
            planned_on: None,
            implemented_on: None,
            measure: Measure::StageScore,
            tag: String::new(),
            question: String::new(),
            aim: Aim::Up,
            window_days: DEFAULT_WINDOW_DAYS,
            note: String::new(),
            author: author.to_string(),
            changed_at: now,
        }
    }

    /// This recommendation with `edit` applied as its next version, checked
    /// whole: the status may follow, the stage and tag exist in `catalog`,
    /// the dates are real and not in the future (`today`).
    pub fn edited(
        &self,
        edit: Edit,
        catalog: &crate::journeys::Catalog,
        today: time::Date,
        author: &str,
        now: u32,
    ) -> Result<Recommendation, ApiError> {
        if let Some(v) = edit.version
            && v != self.version
        {
            return Err(ApiError::Conflict {
                field: "version",
                message: format!("changed since you opened it: version {} is stored; reload", self.version),
            });
        }
        let mut next = self.clone();
        next.version = self.version + 1;
        next.author = author.to_string();
        next.changed_at = now;
        next.note = edit.note.map_or_else(String::new, |n| n.trim().to_string());
        if let Some(j) = edit.journey {
            next.journey = j.trim().to_string();
        }
        if let Some(s) = edit.stage {
            next.stage = s.trim().to_string();
        }
        if let Some(t) = edit.text_ru {
            next.text.ru = t.trim().to_string();
        }
        if let Some(t) = edit.text_en {
            next.text.en = t.trim().to_string();
        }
        if let Some(u) = edit.owner_unit {
            next.owner_unit = u.trim().to_string();
        }
        if let Some(d) = edit.planned_on {
            next.planned_on = date("planned_on", &d)?;
        }
        if let Some(d) = edit.implemented_on {
            next.implemented_on = date("implemented_on", &d)?;
        }
        if let Some(m) = edit.measure {
            next.measure = m;
            next.aim = m.natural_aim().unwrap_or(Aim::Down);
        }
        if let Some(t) = edit.tag {
            next.tag = t.trim().to_string();
        }
        if let Some(q) = edit.question {
            next.question = q.trim().to_string();
        }
        if let Some(a) = edit.aim {
            next.aim = a;
        }
        if let Some(w) = edit.window_days {
            next.window_days = w;
        }
        if let Some(s) = edit.status
            && s != self.status
        {
            if !self.status.next().contains(&s) {
                return Err(ApiError::Conflict {
                    field: "status",
                    message: format!("a recommendation {:?} cannot become {:?}", self.status, s),
                });
            }
            next.status = s;
        }
        next.check(catalog, today)?;
        Ok(next)
    }

    fn check(&self, catalog: &crate::journeys::Catalog, today: time::Date) -> Result<(), ApiError> {
        let journey = catalog.journey_or_404(&self.journey)?;
        let stage = journey.stages.iter().find(|s| s.id == self.stage).ok_or_else(|| {
            ApiError::invalid("stage", format!("journey {:?} has no stage {:?}", self.journey, self.stage))
        })?;
        if self.text.ru.is_empty() {
            return Err(ApiError::invalid("text_ru", "say what is recommended"));
        }
        if self.text.ru.chars().count() > 2000 || self.text.en.chars().count() > 2000 {
            return Err(ApiError::invalid("text_ru", "at most 2000 characters"));
        }
        if !matches!(self.status, Status::Proposed | Status::Rejected) && self.owner_unit.is_empty() {
            return Err(ApiError::invalid("owner_unit", "name the unit that carries it out"));
        }
        if let Some(problem) = (!self.owner_unit.is_empty()).then(|| id_problem(&self.owner_unit)).flatten() {
            return Err(ApiError::invalid("owner_unit", problem));
        }
        match (self.status.is_done(), self.implemented_on) {
            (true, None) => return Err(ApiError::invalid("implemented_on", "the day it was carried out")),
            (_, Some(d)) if d > today => return Err(ApiError::invalid("implemented_on", "not a day in the future")),
            _ => {}
        }
        match (self.measure, self.measure.natural_aim()) {
            (Measure::TagShare, _) if !stage.tags.iter().any(|t| t.id == self.tag) => {
                return Err(ApiError::invalid("tag", format!("stage {:?} has no tag {:?}", self.stage, self.tag)));
            }
            (Measure::Criterion, _)
                if stage.question_set().is_none_or(|set| set.question(&self.question).is_none()) =>
            {
                return Err(ApiError::invalid(
                    "question",
                    format!("stage {:?} asks no question {:?}", self.stage, self.question),
                ));
            }
            (_, Some(aim)) if aim != self.aim => {
                return Err(ApiError::invalid("aim", format!("{:?} is better going {:?}", self.measure, aim)));
            }
            _ => {}
        }
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            return Err(ApiError::invalid("window_days", format!("from 1 to {MAX_WINDOW_DAYS} days")));
        }
        Ok(())
    }
}
