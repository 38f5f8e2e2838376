//! A case's life: new → acknowledged → in progress → answered → closed, each
//! change recorded (who, when) in an append-only log and applied here. A
//! change carries an id of its own, so a retried change is a no-op rather
//! than a second change or an error; a change a closed case cannot take is a
//! conflict.

use crate::domain::Invalid;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Acknowledged,
    InProgress,
    Answered,
    Closed,
}

impl Status {
    /// Every status, in the order a case goes through them.
    pub const ALL: [Status; 5] =
        [Status::New, Status::Acknowledged, Status::InProgress, Status::Answered, Status::Closed];

    /// Its name in URLs, JSON and the `cases` rows (its serde name).
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::Answered => "answered",
            Status::Closed => "closed",
        }
    }

    /// The status of `name`, as [`Status::name`] writes it.
    pub fn of(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How a closed case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The client's problem was solved.
    Resolved,
    /// The client was told why things are as they are.
    Explained,
    /// The cause was handed to the client-centricity lab.
    PassedToLab,
    NothingPossible,
    Spam,
}

impl Resolution {
    /// Every resolution, as the close form lists them.
    pub const ALL: [Resolution; 5] = [
        Resolution::Resolved,
        Resolution::Explained,
        Resolution::PassedToLab,
        Resolution::NothingPossible,
        Resolution::Spam,
    ];

    /// Its name in forms, JSON and the `case_changes` rows (its serde name).
    pub fn name(self) -> &'static str {
        match self {
            Resolution::Resolved => "resolved",
            Resolution::Explained => "explained",
            Resolution::PassedToLab => "passed_to_lab",
            Resolution::NothingPossible => "nothing_possible",
            Resolution::Spam => "spam",
        }
    }

    /// The resolution of `name`, as [`Resolution::name`] writes it.
    pub fn of(name: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What a handler does to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Start,
    /// The ministry's answer to the client.
    Answer {
        text: String,
    },
    Close {
        resolution: Resolution,
    },
}

impl Action {
    /// Its name in forms, JSON and the `case_changes` rows.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Start => "start",
            Action::Answer { .. } => "answer",
            Action::Close { .. } => "close",
        }
    }

    /// The action named `name`, with the answer's `text` or the closing's
    /// `resolution` it needs: one reading for the queue's pages, the API and
    /// the stored log. An answer is cleaned and at most 10,000 characters.
    pub fn parse(name: &str, text: Option<String>, resolution: Option<Resolution>) -> Result<Action, Invalid> {
        Ok(match name {
            "acknowledge" => Action::Acknowledge,
            "start" => Action::Start,
            "answer" => Action::Answer { text: crate::domain::text::bounded("text", text, 10_000)? },
            "close" => Action::Close {
                resolution: resolution.ok_or_else(|| Invalid::new("resolution", "choose how the case ended"))?,
            },
            other => return Err(Invalid::new("action", format!("unknown step {other:?}"))),
        })
    }
}

/// One entry of a case's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Chosen by the caller; the same id again is the same change.
    pub id: Uuid,
    /// Unix seconds.
    pub at: u32,
    /// The account that made it.
    pub by: String,
    pub action: Action,
}

/// A case as its log says it stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub status: Option<Status>,
    pub acknowledged_at: Option<u32>,
    pub answered_at: Option<u32>,
    pub closed_at: Option<u32>,
    pub answer: Option<String>,
    pub resolution: Option<Resolution>,
    applied: Vec<Uuid>,
}

/// Why a change was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the case is closed")]
    Closed,
    #[error("a case {from:?} cannot be {action}")]
    Order { from: Status, action: &'static str },
    #[error("an answer needs text")]
    EmptyAnswer,
}

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// This change id was applied before: nothing more happened.
    Repeated,
}

impl State {
    /// A case as it opens.
    pub fn opened() -> State {
        State { status: Some(Status::New), ..State::default() }
    }

    /// A state as the queue's query folds it from a stored log:
    /// `[acknowledged_at, answered_at, closed_at]`.
    pub fn stored(
        status: Status,
        times: [Option<u32>; 3],
        answer: Option<String>,
        resolution: Option<Resolution>,
    ) -> State {
        let [acknowledged_at, answered_at, closed_at] = times;
        State { status: Some(status), acknowledged_at, answered_at, closed_at, answer, resolution, applied: Vec::new() }
    }

    pub fn status(&self) -> Status {
        self.status.unwrap_or(Status::New)
    }

    /// Open at `now` with a step not done by its deadline.
    pub fn overdue(&self, acknowledge_by: u32, answer_by: u32, now: u32) -> bool {
        self.status() != Status::Closed
            && ((self.acknowledged_at.is_none() && now >= acknowledge_by)
                || (self.answered_at.is_none() && now >= answer_by))
    }

    /// Replays a log in order; entries the rules refuse (two handlers racing)
    /// are skipped, as they were refused when made.
    pub fn replay<'a>(changes: impl IntoIterator<Item = &'a Change>) -> State {
        let mut state = State::opened();
        for change in changes {
            let _ = state.apply(change);
        }
        state
    }

    /// Applies `change`; acknowledging is implied by starting or answering,
    /// and marking spam is closing from any open status.
    pub fn apply(&mut self, change: &Change) -> Result<Applied, Refusal> {
        if self.applied.contains(&change.id) {
            return Ok(Applied::Repeated);
        }
        let from = self.status();
        if from == Status::Closed {
            return Err(Refusal::Closed);
        }
        let order = |action| Refusal::Order { from, action };
        match &change.action {
            Action::Acknowledge if from >= Status::Acknowledged => return Err(order("acknowledged again")),
            Action::Start if from >= Status::InProgress => return Err(order("started again")),
            Action::Answer { text } if text.trim().is_empty() => return Err(Refusal::EmptyAnswer),
            Action::Answer { .. } if from == Status::Answered => return Err(order("answered again")),
            Action::Close { resolution } if from != Status::Answered && *resolution != Resolution::Spam => {
                return Err(order("closed before it is answered"));
            }
            _ => {}
        }
        let status = match &change.action {
            Action::Acknowledge => Status::Acknowledged,
            Action::Start => Status::InProgress,
            Action::Answer { text } => {
                self.answered_at = Some(change.at);
                self.answer = Some(text.clone());
                Status::Answered
            }
            Action::Close { resolution } => {
                self.closed_at = Some(change.at);
                self.resolution = Some(*resolution);
                Status::Closed
            }
        };
        if status != Status::Closed || self.resolution != Some(Resolution::Spam) {
            self.acknowledged_at.get_or_insert(change.at);
        }
        self.status = Some(status);
        self.applied.push(change.id);
        Ok(Applied::Changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_and_resolution_is_named_as_serde_names_it_and_found_by_that_name() {
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
            assert_eq!(Status::of(s.name()), Some(s));
        }
        for r in Resolution::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.name());
            assert_eq!(Resolution::of(r.name()), Some(r));
        }
        assert_eq!((Status::of("open"), Resolution::of("")), (None, None));
    }

    fn change(at: u32, action: Action) -> Change {
        Change { id: Uuid::new_v4(), at, by: "handler-1".into(), action }
    }

    fn answer() -> Action {
        Action::Answer { text: "Форма исправлена".into() }
    }

    #[test]
    fn a_case_goes_from_new_to_closed_and_records_when() {
        let mut state = State::opened();
        for (at, action) in [(10, Action::Acknowledge), (20, Action::Start), (30, answer())] {
            assert_eq!(state.apply(&change(at, action)), Ok(Applied::Changed));
        }
        let close = change(40, Action::Close { resolution: Resolution::Resolved });
        assert_eq!(state.apply(&close), Ok(Applied::Changed));
        assert_eq!(state.status(), Status::Closed);
        assert_eq!((state.acknowledged_at, state.answered_at, state.closed_at), (Some(10), Some(30), Some(40)));
        assert_eq!(state.answer.as_deref(), Some("Форма исправлена"));
    }

    #[test]
    fn a_retried_change_is_a_no_op_and_a_new_one_on_a_closed_case_a_conflict() {
        let mut state = State::opened();
        let first = change(10, answer());
        assert_eq!(state.apply(&first), Ok(Applied::Changed));
        assert_eq!(state.acknowledged_at, Some(10), "answering acknowledges");
        assert_eq!(state.apply(&first), Ok(Applied::Repeated));
        assert_eq!(
            state.apply(&change(11, answer())),
            Err(Refusal::Order { from: Status::Answered, action: "answered again" })
        );
        let close = change(20, Action::Close { resolution: Resolution::Explained });
        state.apply(&close).unwrap();
        assert_eq!(state.apply(&close), Ok(Applied::Repeated), "the same close again");
        assert_eq!(state.apply(&change(30, answer())), Err(Refusal::Closed));
    }

    #[test]
    fn spam_closes_an_open_case_without_an_answer_and_nothing_else_does() {
        let mut state = State::opened();
        let early = change(5, Action::Close { resolution: Resolution::Resolved });
        assert!(matches!(state.apply(&early), Err(Refusal::Order { .. })));
        state.apply(&change(6, Action::Close { resolution: Resolution::Spam })).unwrap();
        assert_eq!((state.status(), state.acknowledged_at), (Status::Closed, None), "spam is not an acknowledgement");
        assert_eq!(State::opened().apply(&change(7, Action::Answer { text: "  ".into() })), Err(Refusal::EmptyAnswer));
    }

    #[test]
    fn a_replayed_log_skips_what_was_refused() {
        let log = [change(1, Action::Start), change(2, Action::Acknowledge), change(3, answer())];
        let state = State::replay(&log);
        assert_eq!((state.status(), state.acknowledged_at, state.answered_at), (Status::Answered, Some(1), Some(3)));
    }
}
