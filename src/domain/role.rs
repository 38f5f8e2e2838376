//! Who an account or API token is: the role decides which routes it may use
//! (issue 13); a handler's units decide which cases.

use std::fmt;
use std::str::FromStr;

/// An account's or token's role. Each route names the roles it admits and
/// answers the others 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads the dashboards, their API and the metrics.
    Analyst,
    /// Works the cases of their units.
    Handler,
    /// Keeps accounts, units and rules.
    Admin,
    /// Prepares changes to the register and the journeys for their units
    /// (order 2.2: structural units prepare them).
    Editor,
    /// Checks drafted changes and includes them in the register (order 2.2:
    /// the authorised persons).
    Approver,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Analyst, Role::Handler, Role::Admin, Role::Editor, Role::Approver];

    /// As stored in the `role` column and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Handler => "handler",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Approver => "approver",
        }
    }

    /// Whether the role acts for units, named with it.
    pub fn has_units(self) -> bool {
        matches!(self, Role::Handler | Role::Editor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: one of analyst, handler, admin, editor, approver"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_reads_back_as_written() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().unwrap_err().contains("analyst, handler, admin, editor, approver"));
    }
}
