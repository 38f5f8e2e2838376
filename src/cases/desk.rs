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

/// What the case routes share: the one door through which cases change.
#[derive(Clone)]
pub struct Desk {
    book: CaseBook,
    clock: Clock,
    /// One change at a time in this process, whichever clone of the desk
    /// makes it: a change is checked against the log as stored, so two
    /// handlers closing one case cannot both be told it worked.
    writing: std::sync::Arc<tokio::sync::Mutex<()>>,
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

/// Cases one bulk action takes at most (a queue page shows 50).
pub const MAX_BULK: usize = 100;

impl Desk {
    pub fn new(book: CaseBook, clock: Clock) -> Desk {
        Desk { book, clock, writing: Default::default() }
    }

    /// The store, for reading.
    pub fn book(&self) -> &CaseBook {
        &self.book
    }

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
        self.book.queue(&query).await.map_err(ApiError::from)
    }

    /// What opened each of `cases`.
    pub async fn contexts(&self, cases: &[&CaseRow]) -> Result<Vec<(Uuid, Context)>, ApiError> {
        self.book.contexts(cases).await.map_err(ApiError::from)
    }

    /// A case the caller may work, with its log: 404 when there is none, 403
    /// when it is another unit's.
    pub async fn mine(&self, caller: &Principal, id: Uuid) -> Result<(CaseRow, Vec<Change>), ApiError> {
        let case = self.book.case(id).await.map_err(ApiError::from)?;
        let case = case.ok_or_else(|| ApiError::NotFound { what: "case", field: "id", id: id.to_string() })?;
        if !caller.grant.units.contains(&case.unit) {
            return Err(ApiError::Forbidden { field: "id", message: "this case is another unit's".into() });
        }
        let log = self.book.logs(&[id]).await.map_err(ApiError::from)?.remove(&id).unwrap_or_default();
        Ok((case, log))
    }

    /// Closes each of `ids` as spam for the caller, all or nothing: every case
    /// must exist and be the caller's (else 404 or 403 naming `id`, and
    /// nothing changes); one query reads them, one their logs, one INSERT
    /// writes the changes. A case closed already is left as it is; the
    /// change id of each is made from `batch`, so sending the form again
    /// changes nothing more. Returns how many this batch closed.
    pub async fn close_as_spam(&self, caller: &Principal, ids: &[Uuid], batch: Uuid) -> Result<usize, ApiError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(ApiError::invalid("id", format!("choose 1 to {MAX_BULK} cases")));
        }
        let _one_at_a_time = self.writing.lock().await;
        let cases = self.book.cases(&ids).await.map_err(ApiError::from)?;
        if let Some(missing) = ids.iter().find(|id| !cases.iter().any(|c| c.event_id == **id)) {
            return Err(ApiError::NotFound { what: "case", field: "id", id: missing.to_string() });
        }
        if cases.iter().any(|c| !caller.grant.units.contains(&c.unit)) {
            return Err(ApiError::Forbidden { field: "id", message: "a chosen case is another unit's".into() });
        }
        let logs = self.book.logs(&ids).await.map_err(ApiError::from)?;
        let now = self.now();
        let (mut changes, mut closed) = (Vec::new(), 0);
        for id in &ids {
            let log = logs.get(id).map(Vec::as_slice).unwrap_or_default();
            let change = Change {
                id: Uuid::new_v5(&batch, id.as_bytes()),
                at: now,
                by: caller.name.clone(),
                action: Action::Close { resolution: super::status::Resolution::Spam },
            };
            match State::replay(log).apply(&change) {
                Ok(Applied::Changed) => changes.push((*id, log.len() as u32, change)),
                Ok(Applied::Repeated) => {}
                // Closed meanwhile some other way: left as it is.
                Err(_) => continue,
            }
            closed += 1;
        }
        self.book.append_all(&changes).await.map_err(ApiError::from)?;
        Ok(closed)
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
        let action = match action {
            Action::Answer { text } => Action::Answer { text: crate::domain::text::clean(text) },
            other => other,
        };
        let _one_at_a_time = self.writing.lock().await;
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
            Ok(Applied::Changed) => self.book.append(id, log.len() as u32, &change).await.map_err(ApiError::from)?,
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
