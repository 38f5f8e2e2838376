//! Channels: how a client reaches the ministry.

use serde::{Deserialize, Serialize};

/// How a client reaches the ministry through a touchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Site,
    Email,
    Phone,
    Social,
    Epgu,
    Vks,
    Post,
    InPerson,
    Edms,
    InternalOffice,
    InternalWorkplace,
    /// A state information system other than EPGU (GIS TOR KND, the state services platform).
    InfoSystem,
    /// Printed or published information materials.
    Printed,
}

impl Channel {
    /// The name as the register writes it (`in_person`), as stored in the `channel` columns.
    pub fn name(self) -> String {
        super::wire_name(&self)
    }

    /// Letters, e-mail and messages: the written channels of the order's standard 3.2.5.
    pub fn is_written(self) -> bool {
        matches!(self, Channel::Email | Channel::Post | Channel::Edms | Channel::Epgu | Channel::Social)
    }
}
