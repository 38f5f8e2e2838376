//! The question-set form as a page: every question with its five answers
//! as radio buttons, none required (a client may skip any). Used by the
//! no-JavaScript embed and by a letter's set link; it posts as a plain form.

use askama::Template;

use crate::domain::QuestionSet;
use crate::domain::questions::{SCORES, score_words};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "questions.html")]
struct Page<'a> {
    lang: &'a str,
    en: bool,
    stage_name: &'a str,
    action: &'a str,
    hidden: &'a [(&'a str, String)],
    questions: Vec<(&'a str, &'a str)>,
    scores: Vec<(u8, &'static str)>,
}

/// The page of `set`, posting to `action` with `hidden` fields.
pub fn render(
    set: &QuestionSet,
    en: bool,
    stage_name: &str,
    action: &str,
    hidden: &[(&str, String)],
) -> Result<String, ApiError> {
    let (lo, hi) = SCORES;
    let scores = (lo..=hi).map(|s| (s, if en { score_words(s).1 } else { score_words(s).0 })).collect();
    Page {
        lang: if en { "en" } else { "ru" },
        en,
        stage_name,
        action,
        hidden,
        questions: set.questions.iter().map(|q| (q.id.as_str(), q.text(en))).collect(),
        scores,
    }
    .render()
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("question set template failed: {e}")))
}
