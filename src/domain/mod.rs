//! The words every part of touchpoint shares: rating scales, emotions,
//! client segments, channels, event kinds, roles, times and working days,
//! case references, what a recommendation measures, question sets, each parsed and checked
//! once here. Capture, dashboards, the seed and the widget import them from
//! this module, never from one another.

pub mod calendar;
pub mod case_ref;
mod channel;
mod kind;
mod measure;
pub mod questions;
mod role;
mod scale;
mod segment;
pub mod text;
pub mod time;

pub use case_ref::{CaseKey, CaseKeys, CaseRef};
pub use channel::Channel;
pub use kind::EventKind;
pub use measure::{Aim, Measure};
pub use questions::{QuestionSet, SetKind};
pub use role::Role;
pub use scale::{Emotion, Scale};
pub use segment::Segment;
pub use text::Text;

/// The `site` of ratings clicked in a letter, not sent by a widget: no
/// site of the config may take this name.
pub const EMAIL_SITE: &str = "email";

/// A well-formed value that is wrong (out of range, unknown, missing): the
/// field it names and what is wrong with it. The HTTP layer answers it as
/// 422 naming the field (`error::ApiError::Invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid { field: field.into(), message: message.into() }
    }
}

/// A unit enum's name as files, JSON and the ClickHouse columns write it
/// (`in_person`, `get_information`): its serde name.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
