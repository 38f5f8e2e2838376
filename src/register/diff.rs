//! What changed between two versions: touchpoints and stages added,
//! removed or changed, and for a change which fields.

use serde::Serialize;

use super::documents::Documents;

/// One entry of the register or of a journey that differs.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Difference {
    /// `touchpoint` or `stage`.
    pub what: &'static str,
    /// The touchpoint's id, or `journey/stage`.
    pub id: String,
    /// `added`, `removed` or `changed`.
    pub how: &'static str,
    /// For `changed`: the fields that differ, as the files name them.
    pub fields: Vec<String>,
}

/// Every difference from `old` to `new`: touchpoints in the register's
/// order, then stages journey by journey.
pub fn diff(old: &Documents, new: &Documents) -> Vec<Difference> {
    let mut out = Vec::new();
    let touchpoints = |d: &Documents| d.register.touchpoints.iter().map(|t| (t.id.clone(), value(t))).collect();
    compare("touchpoint", touchpoints(old), touchpoints(new), &mut out);
    let stages = |d: &Documents| {
        d.journeys.iter().flat_map(|j| j.stages.iter().map(move |s| (format!("{}/{}", j.id, s.id), value(s)))).collect()
    };
    compare("stage", stages(old), stages(new), &mut out);
    out
}

fn value<T: Serialize>(item: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(item) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

type Entries = Vec<(String, serde_json::Map<String, serde_json::Value>)>;

fn compare(what: &'static str, old: Entries, new: Entries, out: &mut Vec<Difference>) {
    let entry = |id: &str, how, fields| Difference { what, id: id.to_string(), how, fields };
    for (id, now) in &new {
        match old.iter().find(|(o, _)| o == id) {
            None => out.push(entry(id, "added", Vec::new())),
            Some((_, before)) => {
                let mut keys: Vec<&String> = before.keys().chain(now.keys()).collect();
                keys.sort();
                keys.dedup();
                let fields: Vec<String> =
                    keys.into_iter().filter(|k| before.get(*k) != now.get(*k)).map(|k| k.to_string()).collect();
                if !fields.is_empty() {
                    out.push(entry(id, "changed", fields));
                }
            }
        }
    }
    for (id, _) in old.iter().filter(|(o, _)| !new.iter().any(|(n, _)| n == o)) {
        out.push(entry(id, "removed", Vec::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journeys::Catalog;
    use crate::journeys::model::Kind;
    use crate::register::change::Change;

    fn shipped() -> Documents {
        Documents::of(&Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap())
    }

    #[test]
    fn each_change_shows_as_the_entries_and_fields_it_touched() {
        let v1 = shipped();
        assert!(diff(&v1, &v1).is_empty());
        let kind = Change::ChangeKind { touchpoint: "vks".into(), to: Kind::Offline };
        let v2 = kind.apply(&v1, "2026-12-02").unwrap();
        let mut stage = v2.journeys[0].stages[0].clone();
        stage.legal_deadline_days = Some(3);
        stage.touchpoints.push("vks".into());
        let v3 = Change::EditStage { journey: v2.journeys[0].id.clone(), stage: Box::new(stage) }
            .apply(&v2, "2026-12-02")
            .unwrap();
        let mut added = v3.register.touchpoints[0].clone();
        added.id = "max".into();
        let v4 = Change::AddTouchpoint { touchpoint: Box::new(added) }.apply(&v3, "2026-12-02").unwrap();

        let all = diff(&v1, &v4);

        let stage_id = format!("{}/{}", v1.journeys[0].id, v1.journeys[0].stages[0].id);
        assert_eq!(
            all,
            [
                Difference { what: "touchpoint", id: "vks".into(), how: "changed", fields: vec!["kind".into()] },
                Difference { what: "touchpoint", id: "max".into(), how: "added", fields: vec![] },
                Difference {
                    what: "stage",
                    id: stage_id,
                    how: "changed",
                    fields: vec!["legal_deadline_days".into(), "touchpoints".into()]
                },
            ]
        );
        let back = diff(&v4, &v1);
        assert!(back.iter().any(|d| d.id == "max" && d.how == "removed"), "{back:?}");
    }
}
