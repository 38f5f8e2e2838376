//! Accounts and API tokens, their roles, and who a request comes from: the
//! login and session of the dashboards' pages, bearer tokens of scripts, and
//! the throttles on wrong passwords and tokens. Every route that reads data or
//! works cases names the roles it admits through [`auth::require`].

pub mod auth;
pub mod directory;
pub mod throttle;
