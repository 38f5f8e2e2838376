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
    /// For `changed`: each of those fields before and after (`null` when
    /// absent), so an approver sees what the change does, not only where.
    pub changes: Vec<FieldChange>,
}

/// One field of a changed entry, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub field: String,
    #[schema(value_type = Object)]
    pub old: serde_json::Value,
    #[schema(value_type = Object)]
    pub new: serde_json::Value,
}

impl FieldChange {
    /// `field: old → new`, each value as a person reads it: text without
    /// quotes, an absent value as `—`, anything longer than 160 characters
    /// cut with `…`.
    pub fn line(&self) -> String {
        format!("{}: {} → {}", self.field, shown(&self.old), shown(&self.new))
    }
}

fn shown(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => "—".to_string(),
        serde_json::Value::String(s) => format!("«{s}»"),
        other => other.to_string(),
    };
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
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
    let entry = |id: &str, how, changes: Vec<FieldChange>| Difference {
        what,
        id: id.to_string(),
        how,
        fields: changes.iter().map(|c| c.field.clone()).collect(),
        changes,
    };
    for (id, now) in &new {
        match old.iter().find(|(o, _)| o == id) {
            None => out.push(entry(id, "added", Vec::new())),
            Some((_, before)) => {
                let mut keys: Vec<&String> = before.keys().chain(now.keys()).collect();
                keys.sort();
                keys.dedup();
                let null = serde_json::Value::Null;
                let changes: Vec<FieldChange> = keys
                    .into_iter()
                    .filter(|k| before.get(*k) != now.get(*k))
                    .map(|k| FieldChange {
                        field: k.to_string(),
                        old: before.get(k).unwrap_or(&null).clone(),
                        new: now.get(k).unwrap_or(&null).clone(),
                    })
                    .collect();
                if !changes.is_empty() {
                    out.push(entry(id, "changed", changes));
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
        let places: Vec<(&str, &str, &str, Vec<String>)> =
            all.iter().map(|d| (d.what, d.id.as_str(), d.how, d.fields.clone())).collect();
        assert_eq!(
            places,
            [
                ("touchpoint", "vks", "changed", vec!["kind".to_string()]),
                ("touchpoint", "max", "added", vec![]),
                ("stage", stage_id.as_str(), "changed", vec!["legal_deadline_days".into(), "touchpoints".into()]),
            ]
        );
        assert_eq!(all[0].changes[0].line(), "kind: «digital» → «offline»");
        assert_eq!(all[2].changes[0].line(), "legal_deadline_days: — → 3");
        assert!(all[2].changes[1].line().ends_with(",\"vks\"]"), "{}", all[2].changes[1].line());
        let back = diff(&v4, &v1);
        assert!(back.iter().any(|d| d.id == "max" && d.how == "removed"), "{back:?}");
    }
}
