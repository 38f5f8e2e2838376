//! The narrow port the capture handlers see.

use crate::storage::rows::Event;
use crate::storage::spool::Refused;
pub use crate::storage::writer::{BoxFuture, Outbox};

/// One event as a handler accepted it: the row that carries its id, and the
/// rows that stand or fall with it (the rating given at the end of a call).
#[derive(Debug, Clone)]
pub struct Submission {
    pub event: Event,
    pub attached: Vec<Event>,
}

impl Submission {
    pub fn new(event: Event) -> Submission {
        Submission { event, attached: Vec::new() }
    }
}

/// What became of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New: on disk now, with what was attached to it.
    Stored,
    /// A later state of an updatable event (a second click in a letter): on
    /// disk now. What was attached is dropped: it went with the first state
    /// (a case opens once per event, whatever the client clicks next).
    Updated,
    /// Already stored (or being stored by a request still in flight): nothing written.
    Duplicate,
}

/// Where the capture handlers send what they accepted. All or nothing: every
/// new submission of the call is on disk when it returns `Ok`, or none is.
pub trait EventSink: Send + Sync {
    fn submit(&self, submissions: Vec<Submission>) -> BoxFuture<'_, Result<Vec<Outcome>, Refused>>;
}
