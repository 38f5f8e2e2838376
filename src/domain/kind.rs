//! The kinds of event touchpoint captures. An event id is unique within its
//! kind: a call and the rating given at its end share one id.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A rating from the widget, the no-JS form or a staff system's client.
    Rating,
    /// Time spent at a touchpoint.
    Timing,
    /// A call of the phone log, with the rating at its end.
    Call,
    /// One state of a letter's timeline; a later state is an update.
    Letter,
    /// A rating clicked in a letter; a later click is an update.
    EmailRating,
    /// A response to a question set: the widget's, a form's, a letter's.
    Answers,
    /// A client asked: the widget shown or opened, a letter's links sent.
    Offer,
}

impl EventKind {
    /// The code of `case_touches.kind` (an `Enum8`, migrations 0014 and 0021;
    /// offers carry no case reference and have no touches) and of
    /// `event_claims.kind`.
    pub fn code(self) -> i8 {
        match self {
            EventKind::Rating => 1,
            EventKind::Timing => 2,
            EventKind::Call => 3,
            EventKind::Letter => 4,
            EventKind::EmailRating => 5,
            EventKind::Answers => 6,
            EventKind::Offer => 7,
        }
    }

    /// The name of `case_touches.kind` and of the APIs.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Rating => "rating",
            EventKind::Timing => "timing",
            EventKind::Call => "call",
            EventKind::Letter => "letter",
            EventKind::EmailRating => "email_rating",
            EventKind::Answers => "answers",
            EventKind::Offer => "offer",
        }
    }

    pub fn from_code(code: i8) -> Option<EventKind> {
        [
            EventKind::Rating,
            EventKind::Timing,
            EventKind::Call,
            EventKind::Letter,
            EventKind::EmailRating,
            EventKind::Answers,
            EventKind::Offer,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    /// Kinds whose later posts with the same id replace the earlier one: a
    /// repeat is a duplicate only when it says the same as the last one.
    pub fn updatable(self) -> bool {
        matches!(self, EventKind::Letter | EventKind::EmailRating)
    }
}
