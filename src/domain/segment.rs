//! Client segments of the register order: external (individual, legal
//! entity, sole proprietor) and internal clients.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Individual,
    LegalEntity,
    SoleProprietor,
    Internal,
}

impl Segment {
    /// The `Enum8` code of the `segment` columns; 0 is `unknown`.
    pub fn code(segment: Option<Segment>) -> i8 {
        match segment {
            None => 0,
            Some(Segment::Individual) => 1,
            Some(Segment::LegalEntity) => 2,
            Some(Segment::SoleProprietor) => 3,
            Some(Segment::Internal) => 4,
        }
    }
}
