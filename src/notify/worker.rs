//! One loop per target: read what it is owed, send it, record the attempt.
//! A failure waits `retry_base`, doubled with each attempt up to `retry_max`;
//! past `give_up_after` from the event the attempt is recorded `dead`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use time::UtcOffset;

use super::mail::Mailer;
use super::message::{self, CaseEvent};
use super::outbox::{Attempt, Deliveries, Due, Outcome, Scope};
use super::webhook::Webhook;
use crate::config::NotifyConfig;
use crate::domain::time::{Clock, unix};
use crate::metrics::Metrics;

/// Why an attempt failed, as it may be logged and stored: no e-mail address
/// and no URL query (a webhook's key) in `message` ([`redacted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// The receiver refused for good (an SMTP 5xx, an address that does
    /// not parse): no retry will change it.
    pub permanent: bool,
}

impl Failure {
    pub fn transient(message: &str) -> Failure {
        Failure { message: redacted(message), permanent: false }
    }

    pub fn permanent(message: &str) -> Failure {
        Failure { message: redacted(message), permanent: true }
    }
}

/// `text` with every e-mail address replaced by `<address>` and every URL's
/// query string dropped: a mail server's refusal quotes the recipient
/// (`550 <a@b.ru>: Recipient address rejected`), and an HTTP error its URL.
pub fn redacted(text: &str) -> String {
    without_addresses(&without_queries(text))
}

/// Each URL (`scheme://…` up to a space or a closing bracket or quote)
/// without its query and fragment.
fn without_queries(text: &str) -> String {
    let ends_url = |c: char| c.is_whitespace() || ")>\"'".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at].rfind(ends_url).map_or(0, |i| i + rest[i..].chars().next().map_or(1, char::len_utf8));
        let end = rest[at..].find(ends_url).map_or(rest.len(), |i| at + i);
        let url = &rest[start..end];
        out.push_str(&rest[..start]);
        out.push_str(url.split(['?', '#']).next().unwrap_or(url));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Each `local@domain.tld` replaced by `<address>`.
fn without_addresses(text: &str) -> String {
    let local = |c: char| c.is_alphanumeric() || "._%+-'!#$&*/=^`{|}~".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let start = if rest[..at].ends_with('"') {
            // `"olga petrova"@mail.ru`: the local part is the quoted string.
            rest[..at - 1].rfind('"').unwrap_or(at)
        } else {
            rest[..at].rfind(|c| !local(c)).map_or(0, |i| i + rest[i..].chars().next().map_or(1, char::len_utf8))
        };
        let end = rest[at + 1..].find(|c| !domain(c)).map_or(rest.len(), |i| at + 1 + i);
        let host = &rest[at + 1..end];
        if start < at && host.contains('.') && !host.starts_with('.') {
            out.push_str(&rest[..start]);
            out.push_str("<address>");
        } else {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// How hard delivery tries.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub poll_interval: Duration,
    /// `housekeeping_interval`.
    pub housekeeping: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
}

impl Policy {
    pub fn new(config: &NotifyConfig) -> Policy {
        Policy {
            poll_interval: config.poll_interval,
            housekeeping: config.housekeeping_interval,
            retry_base: config.retry_base,
            retry_max: config.retry_max,
            give_up_after: config.give_up_after,
        }
    }

    /// The record of attempt `number` (1 for the first) at `now` of an event
    /// that happened at `happened` (unix seconds), given how it went.
    pub fn attempt(
        &self,
        event_id: &str,
        number: u32,
        happened: u32,
        now: SystemTime,
        result: Result<(), Failure>,
    ) -> Attempt {
        let at = unix(now);
        let record =
            |outcome, next_at, error| Attempt { event_id: event_id.into(), number, at, outcome, next_at, error };
        let Err(Failure { message: error, permanent }) = result else {
            return record(Outcome::Delivered, 0, String::new());
        };
        if permanent {
            return record(Outcome::Dead, 0, error);
        }
        let wait = self.retry_base.saturating_mul(1 << number.saturating_sub(1).min(20)).min(self.retry_max);
        let next = now + wait;
        let happened = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(happened));
        if next.duration_since(happened).unwrap_or_default() > self.give_up_after {
            return record(Outcome::Dead, 0, error);
        }
        let next_ms = next.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
        record(Outcome::Failed, u64::try_from(next_ms).unwrap_or(u64::MAX), error)
    }

    /// The oldest event still owed at `now` (unix seconds).
    fn since(&self, now: SystemTime) -> u32 {
        unix(now.checked_sub(self.give_up_after).unwrap_or(SystemTime::UNIX_EPOCH))
    }
}

/// Where a target's events go.
pub enum Channel {
    Webhook(Webhook),
    /// A unit's mailbox: letters about its new cases.
    Mail {
        mailer: Mailer,
        to: Vec<Mailbox>,
        links: Links,
    },
    /// The clients who left an address for the notice of the answer.
    /// Boxed: the store's client is far larger than the other variants.
    Client {
        mailer: Mailer,
        follow: Box<Follow>,
    },
}

/// Where a client's notice links to, and the addresses given.
#[derive(Clone)]
pub struct Follow {
    pub links: Arc<crate::follow::FollowLinks>,
    pub store: crate::follow::FollowStore,
}

/// The links letters give: `<base>/cases/<id>`, in the ministry's time zone.
#[derive(Clone)]
pub struct Links {
    pub base: String,
    pub offset: UtcOffset,
}

impl Links {
    pub fn case(&self, id: uuid::Uuid) -> String {
        format!("{}/cases/{id}", self.base.trim_end_matches('/'))
    }
}

/// A target: its name in `deliveries` and /metrics, what it receives, and how.
pub struct Target {
    pub name: String,
    pub scope: Scope,
    pub channel: Channel,
}

/// What an attempt did.
pub enum Sent {
    Delivered,
    /// There was no one to tell (a client who left no address).
    Nothing,
}

impl Target {
    async fn send(&self, event: &CaseEvent, now: SystemTime) -> Result<Sent, Failure> {
        match &self.channel {
            Channel::Webhook(hook) => hook
                .send(event, i64::from(unix(now)))
                .await
                .map(|()| Sent::Delivered)
                .map_err(|e| Failure::transient(&e)),
            Channel::Mail { mailer, to, links } => {
                let letter = message::opened(&event.case, &links.case(event.case.event_id), links.offset);
                mailer.send(to, &letter, &message_id(&event.id, &self.name)).await.map(|()| Sent::Delivered)
            }
            Channel::Client { mailer, follow } => {
                let case = &event.case;
                let contact =
                    follow.store.contact(case.event_id).await.map_err(|e| Failure::transient(&e.to_string()))?;
                let Some(address) = contact else { return Ok(Sent::Nothing) };
                let to: Mailbox = address
                    .parse()
                    .map_err(|e: lettre::address::AddressError| Failure::permanent(&format!("the address: {e}")))?;
                let letter = message::answered(&follow.links.url(case.event_id, case.opened_at));
                mailer.send(&[to], &letter, &message_id(&event.id, &self.name)).await.map(|()| Sent::Delivered)
            }
        }
    }
}

/// A Message-ID's left part: the same for every attempt at one letter.
pub fn message_id(event_id: &str, target: &str) -> String {
    let plain = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>();
    format!("{}.{}", plain(event_id), plain(target))
}

/// What every target loop shares.
#[derive(Clone)]
pub struct Shared {
    pub deliveries: Deliveries,
    pub policy: Policy,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

/// Delivers to `target` until the task is dropped.
pub async fn run(target: Target, shared: Shared) {
    let batch = 100;
    loop {
        let now = (shared.clock)();
        let now_ms =
            u64::try_from(now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0);
        let owed = shared.deliveries.due(&target.name, &target.scope, shared.policy.since(now), now_ms, batch).await;
        match owed {
            Ok(owed) if !owed.is_empty() => {
                let full = owed.len() as u64 == batch;
                if deliver(&target, &shared, owed).await && full {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(target = %target.name, error = %e, "cannot read what is owed; trying again"),
        }
        tokio::time::sleep(shared.policy.poll_interval).await;
    }
}

/// Sends each event and records the attempt; false when a record could not
/// be written (ClickHouse is down: stop and wait, the events stay owed).
async fn deliver(target: &Target, shared: &Shared, owed: Vec<Due>) -> bool {
    for Due { event, tries } in owed {
        let now = (shared.clock)();
        let result = target.send(&event, now).await;
        let nothing = matches!(result, Ok(Sent::Nothing));
        let mut attempt = shared.policy.attempt(&event.id, tries + 1, event.at, now, result.map(drop));
        if nothing {
            attempt.outcome = Outcome::Skipped;
        }
        if attempt.outcome != Outcome::Delivered {
            tracing::warn!(target = %target.name, event = %event.id, attempt = attempt.number,
                outcome = attempt.outcome.name(), error = %attempt.error, "notification not delivered");
        }
        shared.metrics.notified(&target.name, attempt.outcome.name());
        if let Err(e) = shared.deliveries.record(&target.name, &attempt).await {
            tracing::warn!(target = %target.name, event = %event.id, error = %e, "cannot record a delivery; it will be sent again");
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            poll_interval: Duration::from_secs(1),
            housekeeping: Duration::from_secs(60),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn failures_back_off_doubling_to_the_cap_then_give_up() {
        let happened = 1_800_000_000;
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(happened as u64 + secs);
        let fail = || Err(Failure::transient("down"));
        let p = policy();
        let waits: Vec<u64> = (1..=5)
            .map(|n| {
                let a = p.attempt("e", n, happened, at(0), fail());
                assert_eq!((a.outcome, a.number, a.error.as_str()), (Outcome::Failed, n, "down"));
                a.next_at / 1000 - u64::from(happened)
            })
            .collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(p.attempt("e", 9, happened, at(3540), fail()).outcome, Outcome::Failed);
        assert_eq!(p.attempt("e", 9, happened, at(3541), fail()).outcome, Outcome::Dead);
        let ok = p.attempt("e", 7, happened, at(99_999), Ok(()));
        assert_eq!((ok.outcome, ok.next_at, ok.error.as_str()), (Outcome::Delivered, 0, ""));
        assert_eq!(p.since(at(3600)), happened);
    }

    #[test]
    fn a_permanent_refusal_is_final_and_no_address_or_query_is_kept() {
        let refusal = Failure::permanent(
            "permanent error (550): 5.1.1 <Olga.Petrova+x@mail.example.ru>: Recipient address rejected",
        );
        let a = policy().attempt(
            "e",
            1,
            1_800_000_000,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_001),
            Err(refusal),
        );
        assert_eq!(a.outcome, Outcome::Dead, "a 5xx is not retried");
        assert_eq!(a.error, "permanent error (550): 5.1.1 <<address>>: Recipient address rejected");
        assert_eq!(
            redacted(
                "error sending request for url (https://crm.example/hooks?key=s3cret&x=1): connection refused; ivan@example.org"
            ),
            "error sending request for url (https://crm.example/hooks): connection refused; <address>"
        );
        assert_eq!(redacted("a @ b, user@ x, 5 @home"), "a @ b, user@ x, 5 @home", "no address, nothing changed");
        assert_eq!(redacted("to \"olga petrova\"@mail.ru refused"), "to <address> refused");
        assert_eq!(redacted("ответ\u{a0}http://x.ru/h?k=1\u{3000}ещё"), "ответ\u{a0}http://x.ru/h\u{3000}ещё");
        assert_eq!(redacted("\u{2003}ölga@почта.рф\u{a0}"), "\u{2003}<address>\u{a0}");
    }

    #[test]
    fn message_ids_are_plain_and_stable() {
        assert_eq!(message_id("3f2a-01", "mail:отдел"), "3f2a-01.mail------");
    }
}
