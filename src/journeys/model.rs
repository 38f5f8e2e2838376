//! The journey map and touchpoint register as they are written in `dashboards/`.
//!
//! Every struct rejects unknown keys so that a typo in a hand-edited file is an
//! error at start, not a silently ignored line.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Emotion, Segment};

pub use crate::domain::Text;

/// Touchpoint type, section 3.1 of the register order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Digital,
    Offline,
}

/// Client needs a touchpoint serves, section 2.6 of the register order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    GetInformation,
    GetConsultation,
    GetDocumentForms,
    SubmitDocuments,
    GetResult,
    PresentForInspection,
    GiveFeedback,
    GetFeedbackOutcome,
    Other,
}

impl Kind {
    /// How the order's table says it: Russian, then English.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Kind::Digital => ("цифровая", "digital"),
            Kind::Offline => ("офлайн", "offline"),
        }
    }
}

impl Need {
    /// The need as 2.6 of the order words it: Russian, then English.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Need::GetInformation => (
                "получение информации, в том числе о ходе рассмотрения заявления, запроса, документов",
                "getting information, including on the progress of an application, request or documents",
            ),
            Need::GetConsultation => ("получение консультации", "getting a consultation"),
            Need::GetDocumentForms => ("получение форм документов", "getting document forms"),
            Need::SubmitDocuments => {
                ("представление заявления, запроса, документов", "submitting an application, request or documents")
            }
            Need::GetResult => {
                ("получение результата, ответа, разъяснения", "getting a result, an answer, an explanation")
            }
            Need::PresentForInspection => {
                ("предоставление объектов для осмотра (проверки)", "presenting objects for inspection")
            }
            Need::GiveFeedback => ("предоставление обратной связи", "giving feedback"),
            Need::GetFeedbackOutcome => {
                ("получение результата рассмотрения обратной связи", "getting the outcome of feedback")
            }
            Need::Other => ("другие потребности клиента", "other needs of the client"),
        }
    }
}

/// `register.toml`: the ministry's list of touchpoints and interaction processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The body that keeps the register.
    pub authority: Text,
    /// The order or document the register comes from.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub processes: Vec<Process>,
    pub touchpoints: Vec<Touchpoint>,
}

/// An interaction process of the register's table (informing, consulting, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub id: String,
    pub name: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Touchpoint {
    /// Stable English id; stored in every event row.
    pub id: String,
    pub name: Text,
    pub channel: Channel,
    pub kind: Kind,
    /// Ids of the register's processes carried out at this touchpoint.
    #[serde(default)]
    pub processes: Vec<String>,
    pub needs: Vec<Need>,
    /// The day (`YYYY-MM-DD`) the touchpoint left the register (5.3.4): no
    /// stage may use it since, and its past events keep its id and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_since: Option<String>,
}

/// `journeys/<id>.toml`: one journey map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// Stable id, equal to the file name without `.toml`.
    pub id: String,
    pub name: Text,
    #[serde(default)]
    pub authority: Option<Text>,
    /// Client segments the journey is for.
    #[serde(default)]
    pub segments: Vec<Segment>,
    /// Stages in the order a client goes through them.
    pub stages: Vec<Stage>,
    /// What opens a case at this journey, its deadlines and default unit.
    #[serde(default)]
    pub cases: super::case_rules::CaseRules,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub id: String,
    pub name: Text,
    /// The client's goals and expectations at this stage.
    pub goal: Text,
    #[serde(default)]
    pub actions: Option<Text>,
    /// Register ids of the touchpoints used at this stage.
    pub touchpoints: Vec<String>,
    /// The emotion the map records before any measurement (the baseline).
    pub emotion: Emotion,
    #[serde(default)]
    pub experience: Experience,
    /// The lab's recommendations for this stage.
    #[serde(default)]
    pub recommendations: Vec<Text>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Tags a client may attach to a rating at this stage ("hard to find", ...).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The unit responsible for this stage, which works its cases; default:
    /// the journey's `cases.unit`.
    #[serde(default)]
    pub unit: Option<String>,
    /// The longest the stage may take by law or the service's administrative
    /// regulation, in working days of the production calendar: a client's
    /// case past it, from its first contact at this stage to its first at a
    /// later one, counts as past the deadline.
    #[serde(default)]
    pub legal_deadline_days: Option<u16>,
    /// The question set this stage asks besides the single rating: the five
    /// "Ваш контроль" criteria or questions of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Questions>,
}

/// A stage's question set as its journey file writes it:
/// `questions = { set = "vk5" }`, or `set = "custom"` with 1–5 `items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questions {
    pub set: crate::domain::SetKind,
    /// The questions of a custom set, each answered 1–5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<QuestionItem>,
}

/// A question of a custom set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionItem {
    /// Stable id, stored with each answer.
    pub id: String,
    pub text: Text,
}

impl Stage {
    /// The set this stage asks, if any.
    pub fn question_set(&self) -> Option<crate::domain::QuestionSet> {
        use crate::domain::{QuestionSet, SetKind, questions::Question};
        let spec = self.questions.as_ref()?;
        Some(match spec.set {
            SetKind::Vk5 => QuestionSet::vk5(),
            SetKind::Custom => QuestionSet {
                kind: SetKind::Custom,
                questions: spec
                    .items
                    .iter()
                    .map(|q| Question { id: q.id.clone(), ru: q.text.ru.clone(), en: q.text.en.clone() })
                    .collect(),
            },
        })
    }
}

/// A tag offered with the rating form of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub id: String,
    pub name: Text,
}

/// Client experience the map records, positive and negative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experience {
    #[serde(default)]
    pub positive: Vec<Text>,
    #[serde(default)]
    pub negative: Vec<Text>,
}

/// A metric measured at a stage, with the lab's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Metric {
    /// Time a client spends at the stage; the target is a median, e.g. "30m", "60days".
    TimeSpent {
        #[serde(default, with = "humantime_serde")]
        target: Option<Duration>,
    },
    /// Client-experience score normalised to 0–100.
    Score {
        #[serde(default)]
        target: Option<f64>,
    },
}

impl Metric {
    pub fn kind(&self) -> &'static str {
        match self {
            Metric::TimeSpent { .. } => "time_spent",
            Metric::Score { .. } => "score",
        }
    }
}
