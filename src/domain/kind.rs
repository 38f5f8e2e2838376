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
}

impl EventKind {
    /// Kinds whose later posts with the same id replace the earlier one: a
    /// repeat is a duplicate only when it says the same as the last one.
    pub fn updatable(self) -> bool {
        matches!(self, EventKind::Letter | EventKind::EmailRating)
    }
}
