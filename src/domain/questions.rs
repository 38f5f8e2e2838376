//! Question sets: several questions on one 1–5 scale asked together about
//! one contact, each a measure of its own per stage and touchpoint. The
//! built-in set is the five criteria public services are rated on in Russia
//! (Government decree No. 1284 of 12.12.2012, the "Ваш контроль" system); a
//! journey may give a stage a custom set of up to five questions instead.
//! Answers are checked once here: a client may skip questions (a partial set
//! is stored as it came), never answer one twice or outside 1–5.

use serde::{Deserialize, Serialize};

use super::Invalid;

/// Most questions in one set.
pub const MAX_QUESTIONS: usize = 5;
/// The lowest and highest answer.
pub const SCORES: (u8, u8) = (1, 5);

/// Which set a stage asks: its id is stored with every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetKind {
    /// The five criteria of decree No. 1284.
    Vk5,
    /// The stage's own questions, from its journey file.
    Custom,
}

impl SetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SetKind::Vk5 => "vk5",
            SetKind::Custom => "custom",
        }
    }
}

/// One question of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Stored with each answer; stable.
    pub id: String,
    pub ru: String,
    pub en: String,
}

impl Question {
    pub fn text(&self, en: bool) -> &str {
        if en { &self.en } else { &self.ru }
    }
}

/// The questions a stage asks together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionSet {
    pub kind: SetKind,
    pub questions: Vec<Question>,
}

/// The five criteria: id, Russian as the decree's list words it (shortened
/// to what a form shows), English.
const VK5: [(&str, &str, &str); 5] = [
    ("time", "Время предоставления услуги", "Time to provide the service"),
    ("queue", "Время ожидания в очереди", "Waiting time in the queue"),
    ("staff", "Вежливость и компетентность сотрудника", "Politeness and competence of the employee"),
    ("premises", "Комфортность условий в помещении", "Comfort of the premises"),
    (
        "information",
        "Доступность информации о порядке предоставления услуги",
        "Access to information about how the service is provided",
    ),
];

impl QuestionSet {
    /// The five "Ваш контроль" criteria.
    pub fn vk5() -> QuestionSet {
        let questions =
            VK5.iter().map(|(id, ru, en)| Question { id: id.to_string(), ru: ru.to_string(), en: en.to_string() });
        QuestionSet { kind: SetKind::Vk5, questions: questions.collect() }
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Checks what a client sent against this set. `field` is the name of
    /// the answers in the request (`answers`); an error names the entry
    /// (`answers[2].score`) and the question it is about.
    pub fn answers(&self, field: &str, sent: Vec<AnswerInput>) -> Result<Answers, Invalid> {
        let ids: Vec<&str> = self.questions.iter().map(|q| q.id.as_str()).collect();
        let mut answers: Vec<(String, u8)> = Vec::with_capacity(sent.len());
        for (i, answer) in sent.into_iter().enumerate() {
            let at = |name: &str| format!("{field}[{i}].{name}");
            let Some(id) = answer.question else {
                return Err(Invalid::new(at("question"), format!("missing; one of: {}", ids.join(", "))));
            };
            if self.question(&id).is_none() {
                return Err(Invalid::new(
                    at("question"),
                    format!("this set has no question {id:?}; its questions: {}", ids.join(", ")),
                ));
            }
            if answers.iter().any(|(q, _)| *q == id) {
                return Err(Invalid::new(at("question"), format!("{id:?} is answered twice")));
            }
            // A question the client skipped is left out, not stored as a score.
            let Some(score) = answer.score else { continue };
            let (lo, hi) = SCORES;
            let score = u8::try_from(score)
                .ok()
                .filter(|s| (lo..=hi).contains(s))
                .ok_or_else(|| Invalid::new(at("score"), format!("{id:?}: a score from {lo} to {hi}, not {score}")))?;
            answers.push((id, score));
        }
        if answers.is_empty() {
            return Err(Invalid::new(field, format!("answer at least one of: {}", ids.join(", "))));
        }
        // In the set's order, whatever order they came in: one response reads the same however it was sent.
        answers.sort_by_key(|(id, _)| ids.iter().position(|q| q == id));
        Ok(Answers(answers))
    }
}

/// One answer as a client sends it: `{"question": "staff", "score": 4}`;
/// `score` null or absent for a question skipped.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// A question id of the stage's set (`time`, `queue`, `staff`,
    /// `premises`, `information` for the five criteria).
    #[serde(default)]
    pub question: Option<String>,
    /// 1 (очень плохо, very bad) to 5 (отлично, excellent).
    #[serde(default)]
    pub score: Option<i64>,
}

/// Checked answers, in the set's order: at least one, each question once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers(Vec<(String, u8)>);

impl Answers {
    pub fn questions(&self) -> Vec<String> {
        self.0.iter().map(|(q, _)| q.clone()).collect()
    }

    pub fn scores(&self) -> Vec<u8> {
        self.0.iter().map(|(_, s)| *s).collect()
    }

    /// The lowest answer: what decides whether the client was unhappy.
    pub fn lowest(&self) -> u8 {
        self.0.iter().map(|(_, s)| *s).min().unwrap_or(SCORES.1)
    }
}

/// The words of each answer on forms and in reports: Russian, English.
pub fn score_words(score: u8) -> (&'static str, &'static str) {
    match score {
        1 => ("очень плохо", "very bad"),
        2 => ("плохо", "bad"),
        3 => ("удовлетворительно", "fair"),
        4 => ("хорошо", "good"),
        _ => ("отлично", "excellent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(question: Option<&str>, score: Option<i64>) -> AnswerInput {
        AnswerInput { question: question.map(str::to_string), score }
    }

    fn field(e: Invalid) -> String {
        e.field
    }

    #[test]
    fn a_partial_set_keeps_only_what_was_answered_in_the_sets_order() {
        let sent = vec![answer(Some("staff"), Some(2)), answer(Some("time"), Some(5)), answer(Some("queue"), None)];
        let answers = QuestionSet::vk5().answers("answers", sent).unwrap();
        assert_eq!(answers.questions(), ["time", "staff"]);
        assert_eq!(answers.scores(), [5, 2]);
        assert_eq!(answers.lowest(), 2);
    }

    #[test]
    fn each_wrong_answer_is_named() {
        let set = QuestionSet::vk5();
        let cases = [
            (vec![answer(None, Some(3))], "answers[0].question"),
            (vec![answer(Some("time"), Some(4)), answer(Some("speed"), Some(3))], "answers[1].question"),
            (vec![answer(Some("time"), Some(4)), answer(Some("time"), Some(3))], "answers[1].question"),
            (vec![answer(Some("queue"), Some(6))], "answers[0].score"),
            (vec![answer(Some("queue"), Some(0))], "answers[0].score"),
            (vec![answer(Some("queue"), Some(-1))], "answers[0].score"),
            (vec![answer(Some("queue"), None)], "answers"),
            (vec![], "answers"),
        ];
        for (sent, expected) in cases {
            assert_eq!(field(set.answers("answers", sent).unwrap_err()), expected);
        }
    }
}
