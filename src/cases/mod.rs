//! Cases: a bad rating, a call past the phone standard, a watched tag or a
//! letter acknowledged late opens a case that the stage's unit acknowledges
//! and answers within working-day deadlines (`domain::calendar`). The rules
//! that decide when are the journey's (`journeys::case_rules`); the row an
//! opening writes (`open`, and
//! `letters` for late letters), the statuses a case goes through (`status`),
//! its store (`book`, `queue`), the one door handlers come through (`desk`)
//! with its API (`api`) and pages (`pages`), and the lab's report (`report`).
//! Notifications (`crate::notify`) and the client's page (`crate::follow`)
//! read the same store.

pub mod api;
mod book;
pub mod desk;
pub mod letters;
mod open;
pub mod pages;
pub mod queue;
pub mod report;
pub mod status;

pub use crate::journeys::case_rules::{CaseRules, Reason};
pub use book::{CaseBook, ChangeRow};
pub use desk::Desk;
pub use open::{Deadlines, Opening};
