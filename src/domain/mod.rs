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

/// A unit enum's name as files, JSON and the ClickHouse columns write it
/// (`in_person`, `get_information`): its serde name.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
