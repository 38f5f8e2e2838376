//! One path for every captured event: the handlers hand it to an
//! [`EventSink`]; the production sink is [`Deduped`], which stores each
//! event id once per kind (an atomic claim, not check-then-remember) and
//! appends what is new to the spool through an [`Outbox`].
//!
//! Kinds and what counts as the same event (see `domain::EventKind`):
//! ratings, timings and calls are immutable, so a repeat of an id is a
//! duplicate whatever it says; a letter and an e-mail rating are updatable,
//! so a repeat is a duplicate only when it says the same as the last state
//! stored, and otherwise supersedes it (its version column moves past the
//! previous one; an e-mail rating also takes the previous score back out of
//! the daily rollup).

mod dedupe;
pub mod port;

pub use crate::domain::EMAIL_SITE;
pub use crate::storage::key::{Key, Version, correction, email_fingerprint, identify};
pub use dedupe::{DedupeOptions, Deduped, Memory, MemoryStats};
pub use port::{EventSink, Outbox, Outcome, Submission};
