//! Free text a client or a staff system sends.

use super::Invalid;

/// A text a person reads, in both languages of the product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Russian, the default language.
    pub ru: String,
    /// English.
    pub en: String,
}

/// Whether a person could have typed `c`. Not: the C0 and C1 control
/// characters other than tab, line feed and carriage return, DEL, the
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069: they can make a comment display as something else than it
/// says), and the byte-order mark U+FEFF.
fn typed(c: char) -> bool {
    !matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The text, or empty when absent, without the characters no person types
/// (see [`typed`]); refused (naming `field`) past `max_chars` of what is left.
/// Every free-text field of every endpoint goes through here.
pub fn bounded(field: &str, value: Option<String>, max_chars: usize) -> Result<String, Invalid> {
    let value = clean(value.unwrap_or_default());
    if value.chars().count() > max_chars {
        return Err(Invalid::new(field, format!("at most {max_chars} characters")));
    }
    Ok(value)
}

/// `text` without the characters no person types (see [`typed`]): what a
/// staff member writes is cleaned like what a client writes.
pub fn clean(mut text: String) -> String {
    if !text.chars().all(typed) {
        text.retain(typed);
    }
    text
}

/// `value` with every string inside it cleaned: a staff edit (a register
/// change, with names in two languages inside operations) arrives as a
/// nested structure, and one pass cleans all of it.
pub fn clean_all<T: serde::Serialize + serde::de::DeserializeOwned>(value: T) -> Result<T, serde_json::Error> {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = clean(std::mem::take(s)),
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut tree = serde_json::to_value(value)?;
    walk(&mut tree);
    serde_json::from_value(tree)
}

#[cfg(test)]
mod tests {
    use super::{bounded, clean_all};

    #[test]
    fn every_string_of_a_nested_edit_is_cleaned() {
        let edit = serde_json::json!({"kind": "add", "names": ["\u{feff}Сайт\u{0}", {"en": "Site\u{202e}"}], "n": 3});
        let cleaned: serde_json::Value = clean_all(edit).unwrap();
        assert_eq!(cleaned, serde_json::json!({"kind": "add", "names": ["Сайт", {"en": "Site"}], "n": 3}));
    }

    #[test]
    fn what_no_person_types_is_dropped_and_the_rest_kept() {
        let sent = "\u{feff}Долго\u{0} ждал\u{202e}\u{2066} ответа\u{7f}\u{85}\u{1b}[31m\tи\r\nвсё.";
        assert_eq!(bounded("comment", Some(sent.into()), 100).unwrap(), "Долго ждал ответа[31m\tи\r\nвсё.");
        assert_eq!(bounded("comment", Some("\u{0}".repeat(50) + "ок"), 2).unwrap(), "ок", "counted after");
        assert_eq!(bounded("comment", None, 2).unwrap(), "");
        assert!(bounded("comment", Some("abc".into()), 2).is_err());
    }
}
