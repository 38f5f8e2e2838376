//! What a handler may do, whichever door they come through (the JSON API or
//! the queue page): read their units' queue and cases, and change a case.
//! Every check of unit and rules is here, once.

use uuid::Uuid;

use super::book::CaseBook;
use super::queue::{Context, QueueQuery};
use super::status::{Action, Applied, Change, Refusal, State, Status};
use crate::accounts::auth::Principal;
use crate::domain::time::{Clock, unix};
use crate::error::ApiError;
use crate::storage::rows::CaseRow;

/// What the case routes share.
#[derive(Clone)]
pub struct Desk {
    pub book: CaseBook,
    pub clock: Clock,
}

/// The queue a caller asks for.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub status: Option<Status>,
    /// Leave out closed cases.
    pub open_only: bool,
    pub stage: Option<String>,
    /// One of the caller's units; none: all of them.
    pub unit: Option<String>,
    pub overdue: bool,
    pub limit: u32,
    pub offset: u32,
}

pub(super) fn internal(e: crate::storage::StorageError) -> ApiError {
    ApiError::Internal(e.into())
}

impl Desk {
    pub fn now(&self) -> u32 {
        unix((self.clock)())
    }

    /// A page of the caller's queue, earliest answer deadline first; 403 for
    /// a unit that is not the caller's.
    pub async fn queue(&self, caller: &Principal, ask: Ask) -> Result<Vec<(CaseRow, State)>, ApiError> {
        let units = match ask.unit {
            Some(unit) if caller.grant.units.contains(&unit) => vec![unit],
            Some(unit) => {
                return Err(ApiError::Forbidden {
                    field: "unit",
                    message: format!("unit {unit:?} is not one of yours"),
                });
            }
            None => caller.grant.units.clone(),
        };
        let query = QueueQuery {
            units,
            status: ask.status,
            open_only: ask.open_only,
            stage: ask.stage.filter(|s| !s.is_empty()),
            overdue: ask.overdue,
            now: self.now(),
            limit: ask.limit,
            offset: ask.offset,
        };
        self.book.queue(&query).await.map_err(internal)
    }

    /// What opened each of `cases`.
    pub async fn contexts(&self, cases: &[&CaseRow]) -> Result<Vec<(Uuid, Context)>, ApiError> {
        self.book.contexts(cases).await.map_err(internal)
    }

    /// A case the caller may work, with its log: 404 when there is none, 403
    /// when it is another unit's.
    pub async fn mine(&self, caller: &Principal, id: Uuid) -> Result<(CaseRow, Vec<Change>), ApiError> {
        let case = self.book.case(id).await.map_err(internal)?;
        let case = case.ok_or_else(|| ApiError::NotFound { what: "case", field: "id", id: id.to_string() })?;
        if !caller.grant.units.contains(&case.unit) {
            return Err(ApiError::Forbidden { field: "id", message: "this case is another unit's".into() });
        }
        let log = self.book.logs(&[id]).await.map_err(internal)?.remove(&id).unwrap_or_default();
        Ok((case, log))
    }

    /// Applies `action` by the caller to case `id` under `change_id`: the
    /// same id again with the same action is applied once, with another 409
    /// naming `change_id`; a closed case is 409, a step out of order 422.
    pub async fn apply(
        &self,
        caller: &Principal,
        id: Uuid,
        change_id: Uuid,
        action: Action,
    ) -> Result<(CaseRow, State), ApiError> {
        let _one_at_a_time = self.book.lock().lock().await;
        let (case, log) = self.mine(caller, id).await?;
        // A retry repeats its change; the same id with other content is not a
        // retry, and silently keeping the first would lose the second.
        if log.iter().any(|earlier| earlier.id == change_id && earlier.action != action) {
            return Err(ApiError::Conflict {
                field: "change_id",
                message: "this change_id was used for another change; send a new id for a new change".into(),
            });
        }
        let mut state = State::replay(&log);
        let change = Change { id: change_id, at: self.now(), by: caller.name.clone(), action };
        match state.apply(&change) {
            Ok(Applied::Changed) => self.book.append(id, log.len() as u32, &change).await.map_err(internal)?,
            Ok(Applied::Repeated) => {}
            Err(Refusal::Closed) => {
                return Err(ApiError::Conflict { field: "id", message: "the case is closed".into() });
            }
            Err(Refusal::EmptyAnswer) => return Err(ApiError::invalid("text", "an answer needs text")),
            Err(refusal @ Refusal::Order { .. }) => return Err(ApiError::invalid("action", refusal.to_string())),
        }
        Ok((case, state))
    }
}
