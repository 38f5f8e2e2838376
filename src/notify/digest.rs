//! Each working day after `notify.digest_at` (local time), one letter per
//! unit listing its overdue cases. The day's letter is an event of its own
//! in `deliveries` (target `digest:<unit>`, id the date), so a restart sends
//! it once and an outage sends it late, never not at all that day.

use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use time::UtcOffset;

use super::mail::Mailer;
use super::message::{self, Overdue};
use super::outbox::Outcome;
use super::worker::{Links, Shared, message_id};
use crate::cases::CaseBook;
use crate::cases::queue::QueueQuery;
use crate::domain::calendar::day_of;
use crate::domain::time::unix;
use crate::storage::StorageError;

pub struct Digest {
    pub unit: String,
    pub to: Vec<Mailbox>,
    pub mailer: Mailer,
    pub links: Links,
    pub book: CaseBook,
    /// Its production calendar says which days are working days.
    pub catalog: crate::journeys::Live,
    /// Local hour and minute.
    pub at: (u8, u8),
}

impl Digest {
    fn target(&self) -> String {
        format!("digest:{}", self.unit)
    }

    /// Today's date (local) if today is a working day and its digest time has come.
    fn due_day(&self, now: SystemTime, offset: UtcOffset) -> Option<String> {
        let day = day_of(now, offset);
        let local = time::OffsetDateTime::from(now).to_offset(offset);
        let come = (local.hour(), local.minute()) >= self.at;
        (come && self.catalog.get().calendar.is_working(day)).then(|| day.to_string())
    }

    /// Sends today's digest if it is due and not yet sent.
    async fn tick(&self, shared: &Shared) -> Result<(), StorageError> {
        let now = (shared.clock)();
        let Some(day) = self.due_day(now, self.links.offset) else { return Ok(()) };
        let target = self.target();
        let last = shared.deliveries.last(&target, &day).await?;
        let now_ms =
            u64::try_from(now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0);
        let tries = match &last {
            Some(a) if a.outcome != Outcome::Failed || a.next_at > now_ms => return Ok(()),
            Some(a) => a.number,
            None => 0,
        };
        let overdue = self.overdue(unix(now)).await?;
        let attempt = if overdue.is_empty() {
            let mut skipped = shared.policy.attempt(&day, tries + 1, unix(now), now, Ok(()));
            skipped.outcome = Outcome::Skipped;
            skipped
        } else {
            let cases: Vec<Overdue<'_>> = overdue
                .iter()
                .map(|(case, unacknowledged)| Overdue {
                    case,
                    unacknowledged: *unacknowledged,
                    link: self.links.case(case.event_id),
                })
                .collect();
            let letter = message::digest(&self.unit, &day, &cases, self.links.offset);
            let sent = self.mailer.send(&self.to, &letter, &message_id(&day, &target)).await;
            shared.policy.attempt(&day, tries + 1, unix(now), now, sent)
        };
        if matches!(attempt.outcome, Outcome::Failed | Outcome::Dead) {
            tracing::warn!(unit = %self.unit, day = %day, attempt = attempt.number, error = %attempt.error,
                "the overdue digest was not delivered");
        }
        shared.metrics.notified(&target, attempt.outcome.name());
        shared.deliveries.record(&target, &attempt).await
    }

    /// The unit's overdue cases (up to 1,000), each with whether it missed
    /// acknowledgement.
    async fn overdue(&self, now: u32) -> Result<Vec<(crate::storage::rows::CaseRow, bool)>, StorageError> {
        let query =
            QueueQuery { units: vec![self.unit.clone()], overdue: true, now, limit: 1000, ..QueueQuery::default() };
        let cases = self.book.queue(&query).await?;
        Ok(cases
            .into_iter()
            .map(|(case, state)| {
                let unacknowledged = state.acknowledged_at.is_none() && now >= case.acknowledge_by;
                (case, unacknowledged)
            })
            .collect())
    }
}

/// Sends the unit's digests until the task is dropped.
pub async fn run(digest: Digest, shared: Shared) {
    loop {
        if let Err(e) = digest.tick(&shared).await {
            tracing::warn!(unit = %digest.unit, error = %e, "cannot prepare the overdue digest; trying again");
        }
        tokio::time::sleep(shared.policy.poll_interval.max(Duration::from_secs(1))).await;
    }
}
