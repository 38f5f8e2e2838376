//! The words every part of touchpoint shares: rating scales, emotions,
//! client segments, channels, event kinds, roles, times and working days,
//! case references, each parsed and checked
//! once here. Capture, dashboards, the seed and the widget import them from
//! this module, never from one another.

pub mod calendar;
pub mod case_ref;
mod channel;
mod kind;
mod role;
mod scale;
mod segment;
pub mod text;
pub mod time;

pub use case_ref::{CaseKey, CaseKeys, CaseRef};
pub use channel::Channel;
pub use kind::EventKind;
pub use role::Role;
pub use scale::{Emotion, Scale};
pub use segment::Segment;
