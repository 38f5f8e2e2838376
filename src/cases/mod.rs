//! Cases: a bad rating, a call past the phone standard or a watched tag opens
//! a case that the stage's unit acknowledges and answers within working-day
//! deadlines (`domain::calendar`). Here so far: the rules that decide when
//! (`rules`), the row an opening writes (`open`) and the statuses a case goes
//! through (`status`); the store of changes, the queue, roles and
//! notifications build on them (issue 13).

pub mod api;
mod book;
pub mod desk;
pub mod letters;
mod open;
pub mod pages;
pub mod queue;
pub mod report;
pub mod rules;
pub mod status;

pub use book::CaseBook;
pub use desk::Desk;
pub use open::{Deadlines, Opening};
pub use rules::{CaseRules, Reason};
