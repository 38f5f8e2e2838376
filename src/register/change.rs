//! A change to the register or a journey, as order 5.3 names the register's:
//! a new touchpoint (5.3.1), its kind changed (5.3.2), the needs it serves
//! changed (5.3.3), its exclusion (5.3.4); and a journey's stage edited.
//!
//! A change is an operation, not a copy of the documents: it is applied to
//! the version in force when it is approved, so two drafts prepared side by
//! side cannot undo each other. Applying it either gives whole new documents
//! that pass every check the files pass, or refuses naming the field.

use serde::{Deserialize, Serialize};

use super::documents::Documents;
use crate::domain::calendar::Calendar;
use crate::journeys::model::{Kind, Need, Stage, Touchpoint};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// 5.3.1: a touchpoint appears.
    AddTouchpoint {
        #[schema(value_type = Object)]
        touchpoint: Box<Touchpoint>,
    },
    /// 5.3.2: a touchpoint becomes digital or offline.
    ChangeKind {
        touchpoint: String,
        #[schema(value_type = String)]
        to: Kind,
    },
    /// 5.3.3: the client needs a touchpoint serves change.
    ChangeNeeds {
        touchpoint: String,
        #[schema(value_type = Vec<String>)]
        needs: Vec<Need>,
    },
    /// 5.3.4: a touchpoint leaves the register; no stage may still use it.
    ExcludeTouchpoint { touchpoint: String },
    /// A journey's stage replaced by one with the same id, or added last
    /// when the id is new.
    EditStage {
        journey: String,
        #[schema(value_type = Object)]
        stage: Box<Stage>,
    },
}

/// Why a change cannot be applied: the field of the change at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> Refused {
    Refused { field: field.to_string(), message: message.into() }
}

impl Change {
    /// The clause of the order the change falls under; none for a stage.
    pub fn clause(&self) -> Option<&'static str> {
        match self {
            Change::AddTouchpoint { .. } => Some("5.3.1"),
            Change::ChangeKind { .. } => Some("5.3.2"),
            Change::ChangeNeeds { .. } => Some("5.3.3"),
            Change::ExcludeTouchpoint { .. } => Some("5.3.4"),
            Change::EditStage { .. } => None,
        }
    }

    /// The documents with this change made on `day` (`YYYY-MM-DD`, the day an
    /// exclusion takes effect), checked as the files are.
    pub fn apply(&self, docs: &Documents, day: &str) -> Result<Documents, Refused> {
        let mut next = docs.clone();
        let prefix = match self {
            Change::AddTouchpoint { touchpoint } => {
                if docs.register.touchpoints.iter().any(|t| t.id == touchpoint.id) {
                    return Err(refuse("touchpoint.id", format!("{:?} is already in the register", touchpoint.id)));
                }
                next.register.touchpoints.push(Touchpoint { excluded_since: None, ..(**touchpoint).clone() });
                "touchpoint"
            }
            Change::ChangeKind { touchpoint, to } => {
                let t = in_force(&mut next, touchpoint)?;
                if t.kind == *to {
                    return Err(refuse("to", format!("{touchpoint:?} is {} already", to.words().1)));
                }
                t.kind = *to;
                ""
            }
            Change::ChangeNeeds { touchpoint, needs } => {
                let t = in_force(&mut next, touchpoint)?;
                if t.needs == *needs {
                    return Err(refuse("needs", format!("{touchpoint:?} serves exactly these needs already")));
                }
                t.needs = needs.clone();
                ""
            }
            Change::ExcludeTouchpoint { touchpoint } => {
                in_force(&mut next, touchpoint)?.excluded_since = Some(day.to_string());
                if let Some((journey, stage)) = used_by(docs, touchpoint) {
                    return Err(refuse(
                        "touchpoint",
                        format!(
                            "stage {stage:?} of journey {journey:?} still uses {touchpoint:?}: edit the stage first"
                        ),
                    ));
                }
                "touchpoint"
            }
            Change::EditStage { journey, stage } => {
                let Some(j) = next.journeys.iter_mut().find(|j| j.id == *journey) else {
                    return Err(refuse("journey", format!("no journey {journey:?}")));
                };
                match j.stages.iter_mut().find(|s| s.id == stage.id) {
                    Some(old) => *old = (**stage).clone(),
                    None => j.stages.push((**stage).clone()),
                }
                "stage"
            }
        };
        match next.catalog(Calendar::default()) {
            Ok(_) => Ok(next),
            Err(errors) => {
                let e = &errors.0[0];
                // A whole-object change names the field inside it; the others
                // have the check's own field name (`needs`) or their one field.
                let field = match (prefix, e.field.as_str()) {
                    ("", "needs") => "needs".to_string(),
                    ("", _) => "to".to_string(),
                    (prefix, "") => prefix.to_string(),
                    (prefix, field) => format!("{prefix}.{field}"),
                };
                Err(Refused { field, message: e.to_string() })
            }
        }
    }
}

/// The touchpoint `id` of `docs`, if it is in force.
fn in_force<'a>(docs: &'a mut Documents, id: &str) -> Result<&'a mut Touchpoint, Refused> {
    match docs.register.touchpoints.iter_mut().find(|t| t.id == id) {
        None => Err(refuse("touchpoint", format!("no touchpoint {id:?} in the register"))),
        Some(t) if t.excluded_since.is_some() => Err(refuse("touchpoint", format!("{id:?} is excluded already"))),
        Some(t) => Ok(t),
    }
}

/// The first journey and stage that use touchpoint `id`.
fn used_by(docs: &Documents, id: &str) -> Option<(String, String)> {
    docs.journeys.iter().find_map(|j| {
        j.stages.iter().find(|s| s.touchpoints.iter().any(|t| t == id)).map(|s| (j.id.clone(), s.id.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journeys::Catalog;

    fn shipped() -> Documents {
        Documents::of(&Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap())
    }

    fn touchpoint(id: &str) -> Touchpoint {
        let mut t = shipped().register.touchpoints[0].clone();
        t.id = id.into();
        t
    }

    fn refused(change: Change) -> Refused {
        change.apply(&shipped(), "2026-12-02").unwrap_err()
    }

    #[test]
    fn each_kind_of_change_gives_documents_that_differ_by_it_alone() {
        let docs = shipped();
        let added = Change::AddTouchpoint { touchpoint: Box::new(touchpoint("max_messenger")) }
            .apply(&docs, "2026-12-02")
            .unwrap();
        assert_eq!(added.register.touchpoints.len(), docs.register.touchpoints.len() + 1);
        assert_eq!(added.journeys, docs.journeys);

        let kind =
            Change::ChangeKind { touchpoint: "vks".into(), to: Kind::Offline }.apply(&docs, "2026-12-02").unwrap();
        assert_eq!(kind.register.touchpoints.iter().find(|t| t.id == "vks").unwrap().kind, Kind::Offline);

        let needs = Change::ChangeNeeds { touchpoint: "vks".into(), needs: vec![Need::GetDocumentForms] };
        let needs = needs.apply(&docs, "2026-12-02").unwrap();
        assert_eq!(needs.register.touchpoints.iter().find(|t| t.id == "vks").unwrap().needs, [Need::GetDocumentForms]);

        // vks is in the register and used by no stage of the example journey.
        let gone = Change::ExcludeTouchpoint { touchpoint: "vks".into() }.apply(&docs, "2026-12-02").unwrap();
        let vks = gone.register.touchpoints.iter().find(|t| t.id == "vks").unwrap();
        assert_eq!(vks.excluded_since.as_deref(), Some("2026-12-02"), "kept, marked: its past events keep a name");

        let mut stage = docs.journeys[0].stages[0].clone();
        stage.legal_deadline_days = Some(5);
        let edited = Change::EditStage { journey: docs.journeys[0].id.clone(), stage: Box::new(stage) }
            .apply(&docs, "2026-12-02")
            .unwrap();
        assert_eq!(edited.journeys[0].stages[0].legal_deadline_days, Some(5));
        assert_eq!(edited.register, docs.register);
    }

    #[test]
    fn bad_changes_are_refused_naming_the_field() {
        let mut stage = shipped().journeys[0].stages[1].clone();
        stage.touchpoints = vec!["fax".into()];
        let journey = shipped().journeys[0].id.clone();
        let unknown = refused(Change::EditStage { journey: journey.clone(), stage: Box::new(stage.clone()) });
        assert_eq!(unknown.field, "stage.touchpoints");
        assert!(unknown.message.contains("unknown touchpoint \"fax\""), "{unknown:?}");

        stage.touchpoints.clear();
        let empty = refused(Change::EditStage { journey, stage: Box::new(stage) });
        assert_eq!(
            (empty.field.as_str(), empty.message.contains("at least one touchpoint")),
            ("stage.touchpoints", true)
        );

        let duplicate = refused(Change::AddTouchpoint { touchpoint: Box::new(touchpoint("site")) });
        assert_eq!(duplicate.field, "touchpoint.id");

        let used = refused(Change::ExcludeTouchpoint { touchpoint: "epgu".into() });
        assert_eq!(used.field, "touchpoint");
        assert!(used.message.contains("still uses \"epgu\""), "{used:?}");

        assert_eq!(refused(Change::ChangeKind { touchpoint: "fax".into(), to: Kind::Digital }).field, "touchpoint");
        assert_eq!(refused(Change::ChangeKind { touchpoint: "site".into(), to: Kind::Digital }).field, "to");
        let no_needs = refused(Change::ChangeNeeds { touchpoint: "site".into(), needs: vec![] });
        assert_eq!(no_needs.field, "needs", "{no_needs:?}");
    }

    #[test]
    fn an_excluded_touchpoint_cannot_come_back_into_a_stage() {
        let docs = shipped();
        let gone = Change::ExcludeTouchpoint { touchpoint: "vks".into() }.apply(&docs, "2026-12-02").unwrap();
        let mut stage = gone.journeys[0].stages[0].clone();
        stage.touchpoints.push("vks".into());

        let refused = Change::EditStage { journey: gone.journeys[0].id.clone(), stage: Box::new(stage) }
            .apply(&gone, "2026-12-03");

        let refused = refused.unwrap_err();
        assert_eq!(refused.field, "stage.touchpoints");
        assert!(refused.message.contains("excluded from the register since 2026-12-02"), "{refused:?}");
    }
}
