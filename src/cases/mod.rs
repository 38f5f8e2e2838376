//! Cases: a bad rating, a call past the phone standard or a watched tag opens
//! a case that the stage's unit acknowledges and answers within working-day
//! deadlines (`domain::calendar`). This module holds the rules that decide
//! when; the case store, queue and notifications build on it (issue 13).

mod open;
pub mod rules;

pub use open::{Deadlines, Opening};
pub use rules::{CaseRules, Reason};
