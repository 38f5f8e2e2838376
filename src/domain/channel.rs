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

    /// What a person reads: Russian and English.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Channel::Site => ("сайт", "website"),
            Channel::Email => ("электронная почта", "e-mail"),
            Channel::Phone => ("телефон", "phone"),
            Channel::Social => ("социальные сети", "social media"),
            Channel::Epgu => ("ЕПГУ (Госуслуги)", "EPGU (Gosuslugi)"),
            Channel::Vks => ("видеосвязь", "video call"),
            Channel::Post => ("почта", "post"),
            Channel::InPerson => ("лично", "in person"),
            Channel::Edms => ("СЭД", "document system"),
            Channel::InternalOffice => ("внутренняя служба", "internal office"),
            Channel::InternalWorkplace => ("рабочее место сотрудника", "staff workplace"),
            Channel::InfoSystem => ("информационная система", "information system"),
            Channel::Printed => ("печатные материалы", "printed materials"),
        }
    }

    /// Letters, e-mail and messages: the written channels of the order's standard 3.2.5.
    pub fn is_written(self) -> bool {
        matches!(self, Channel::Email | Channel::Post | Channel::Edms | Channel::Epgu | Channel::Social)
    }
}
