//! The dedupe layer: an event id is claimed atomically before its rows are
//! appended, so a retry in a row, a retry racing the first attempt, and a
//! retry after a restart (the memory is rebuilt at start) are all answered
//! without a second row.
//!
//! Memory: one entry per event id seen within the window, in 16 shards,
//! each two hash tables (25-byte slots for immutable kinds, 41-byte ones
//! for updatable kinds; README "Exactly once across retries"). Bounded by the window (a janitor drops expired ids every
//! minute) and by `max_ids`: past it a shard forgets its oldest eighth, and
//! `MemoryStats::evicted` counts what was forgotten early.

use std::collections::{HashMap, HashSet};

// Event ids are chosen by clients, so the maps need a keyed hash; foldhash
// is seeded per process like std's SipHash and hashes a 17-byte key in a
// fraction of its time (a few percent of a rating's cost, BENCHMARKS.md).
type Hasher = foldhash::fast::RandomState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use super::port::{BoxFuture, EventSink, Outbox, Outcome, Submission};
use crate::domain::time::{Clock, unix};
use crate::storage::key::{Key, Version, identify, supersede};
use crate::storage::rows::Event;
use crate::storage::spool::Refused;

const SHARDS: usize = 16;
const JANITOR_EVERY: Duration = Duration::from_secs(60);

/// How long and how many ids are remembered.
#[derive(Debug, Clone, Copy)]
pub struct DedupeOptions {
    /// A repeat of an immutable event (rating, timing, call) within this long
    /// of the first is a duplicate.
    pub window: Duration,
    /// The same for updatable events (letters, e-mail ratings): at least as
    /// long as a rating link lives, so a late second click still replaces.
    pub update_window: Duration,
    /// Ids remembered at most, over all kinds.
    pub max_ids: usize,
}

/// Immutable kinds need only the time an id arrived (25 bytes a slot);
/// updatable ones also what their last state said (41 bytes a slot).
#[derive(Default)]
struct Shard {
    seen: HashMap<Key, u32, Hasher>,
    versions: HashMap<Key, Version, Hasher>,
    /// Claimed by a request whose rows are on their way to disk.
    pending: HashSet<Key, Hasher>,
    /// A request waits on this shard's `resolved`: the next claim resolved
    /// wakes it. Without waiters no wake-up is sent (it locks a list).
    waited: bool,
}

impl Shard {
    fn get(&self, key: &Key) -> Option<Version> {
        if key.kind.updatable() {
            self.versions.get(key).copied()
        } else {
            self.seen.get(key).map(|&at| Version { at, fingerprint: 0 })
        }
    }

    fn put(&mut self, key: Key, version: Version) {
        if key.kind.updatable() {
            self.versions.insert(key, version);
        } else {
            self.seen.insert(key, version.at);
        }
    }

    fn len(&self) -> usize {
        self.seen.len() + self.versions.len()
    }

    /// Keeps the ids for which `keep(key, arrived at)` holds.
    fn retain(&mut self, keep: impl Fn(&Key, u32) -> bool) {
        self.seen.retain(|key, at| keep(key, *at));
        self.versions.retain(|key, v| keep(key, v.at));
    }
}

/// Ids remembered now, and how many were forgotten before their window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStats {
    pub ids: usize,
    pub evicted: u64,
}

/// The ids remembered, and the claims in flight on them.
pub struct Memory {
    shards: Box<[Mutex<Shard>]>,
    /// Woken when a claim in the shard is resolved.
    resolved: Box<[Notify]>,
    options: DedupeOptions,
    evicted: AtomicU64,
}

/// The dedupe layer on an outbox: the production [`EventSink`].
pub struct Deduped {
    memory: Arc<Memory>,
    outbox: Arc<dyn Outbox>,
    /// Tells whether a remembered id's window has passed.
    clock: Clock,
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Every critical section leaves the maps consistent: keep going after a panic.
    shard.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one pass over a submission's keys found.
enum Pass<'a> {
    Claimed(Vec<(usize, Key, Option<Version>)>, Vec<Outcome>),
    /// Another request holds a claim on one of the keys: wait until a claim
    /// of that shard is resolved, then try again.
    Wait(tokio::sync::futures::Notified<'a>),
}

impl Memory {
    pub fn new(options: DedupeOptions) -> Memory {
        Memory {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            resolved: (0..SHARDS).map(|_| Notify::new()).collect(),
            options,
            evicted: AtomicU64::new(0),
        }
    }

    fn shard_of(key: &Key) -> usize {
        (key.id.as_bytes()[15] as usize ^ key.kind as usize) % SHARDS
    }

    fn window(&self, key: &Key) -> u32 {
        let window = if key.kind.updatable() { self.options.update_window } else { self.options.window };
        u32::try_from(window.as_secs()).unwrap_or(u32::MAX)
    }

    /// Records a stored event, as found at start in the spool or in ClickHouse.
    pub fn remember(&self, event: &Event) {
        if let Some((key, version)) = identify(event) {
            self.insert(key, version);
        }
    }

    /// Records a stored state of `key`; an older one than known is ignored.
    pub fn insert(&self, key: Key, version: Version) {
        let mut shard = lock(&self.shards[Self::shard_of(&key)]);
        match shard.get(&key) {
            Some(known) if known.at > version.at => {}
            _ => shard.put(key, version),
        }
        self.bound(&mut shard);
    }

    pub fn stats(&self) -> MemoryStats {
        let ids = self.shards.iter().map(|s| lock(s).len()).sum();
        MemoryStats { ids, evicted: self.evicted.load(Ordering::Relaxed) }
    }

    /// Forgets ids whose window has passed.
    pub fn expire(&self, now: u32) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.retain(|key, at| at.saturating_add(self.window(key)) >= now);
        }
    }

    /// Runs `expire` every minute while the memory is in use.
    pub fn spawn_janitor(this: &Arc<Memory>) {
        let weak = Arc::downgrade(this);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(JANITOR_EVERY);
            loop {
                tick.tick().await;
                let Some(memory) = weak.upgrade() else { break };
                memory.expire(unix(SystemTime::now()));
            }
        });
    }

    /// Past its share of `max_ids`, a shard forgets its oldest eighth.
    fn bound(&self, shard: &mut Shard) {
        let cap = (self.options.max_ids / SHARDS).max(8);
        if shard.len() <= cap {
            return;
        }
        let mut ats: Vec<u32> = shard.seen.values().copied().chain(shard.versions.values().map(|v| v.at)).collect();
        let eighth = ats.len() / 8;
        let (_, cutoff, _) = ats.select_nth_unstable(eighth);
        let cutoff = *cutoff;
        let before = shard.len();
        shard.retain(|_, at| at > cutoff);
        self.evicted.fetch_add((before - shard.len()) as u64, Ordering::Relaxed);
    }

    /// Claims every new key of `idents`, or names a shard to wait on.
    fn pass(&self, idents: &[Option<(Key, Version)>], now: u32) -> Pass<'_> {
        let mut outcomes = vec![Outcome::Stored; idents.len()];
        let mut claims: Vec<(usize, Key, Option<Version>)> = Vec::new();
        for (i, ident) in idents.iter().enumerate() {
            let Some((key, version)) = ident else { continue };
            // The same id twice in one request is stored once.
            if claims.iter().any(|(_, k, _)| k == key) {
                outcomes[i] = Outcome::Duplicate;
                continue;
            }
            let at = Self::shard_of(key);
            let mut shard = lock(&self.shards[at]);
            if shard.pending.contains(key) {
                // Created under the lock: the wake-up of that claim cannot be missed.
                let notified = self.resolved[at].notified();
                shard.waited = true;
                drop(shard);
                self.release(claims.iter().map(|(_, k, _)| k));
                return Pass::Wait(notified);
            }
            let known = shard.get(key).filter(|v| v.at.saturating_add(self.window(key)) >= now);
            match known {
                Some(last) if !key.kind.updatable() || last.fingerprint == version.fingerprint => {
                    outcomes[i] = Outcome::Duplicate;
                }
                previous => {
                    shard.pending.insert(*key);
                    claims.push((i, *key, previous));
                }
            }
        }
        Pass::Claimed(claims, outcomes)
    }

    /// Gives up claims without storing: a waiting retry will try itself.
    fn release<'a>(&self, keys: impl Iterator<Item = &'a Key>) {
        for key in keys {
            let at = Self::shard_of(key);
            let mut shard = lock(&self.shards[at]);
            shard.pending.remove(key);
            let wake = std::mem::take(&mut shard.waited);
            drop(shard);
            if wake {
                self.resolved[at].notify_waiters();
            }
        }
    }

    fn commit(&self, stored: &[(Key, Version)]) {
        for (key, version) in stored {
            let at = Self::shard_of(key);
            let mut shard = lock(&self.shards[at]);
            shard.pending.remove(key);
            shard.put(*key, *version);
            self.bound(&mut shard);
            let wake = std::mem::take(&mut shard.waited);
            drop(shard);
            if wake {
                self.resolved[at].notify_waiters();
            }
        }
    }
}

impl Deduped {
    pub fn new(memory: Arc<Memory>, outbox: Arc<dyn Outbox>, clock: Clock) -> Deduped {
        Deduped { memory, outbox, clock }
    }

    async fn submit_all(&self, submissions: Vec<Submission>) -> Result<Vec<Outcome>, Refused> {
        let idents: Vec<_> = submissions.iter().map(|s| identify(&s.event)).collect();
        let (claims, mut outcomes) = loop {
            let now = unix((self.clock)());
            match self.memory.pass(&idents, now) {
                Pass::Claimed(claims, outcomes) => break (claims, outcomes),
                Pass::Wait(notified) => notified.await,
            }
        };
        let mut events = Vec::with_capacity(submissions.len());
        let mut stored = Vec::with_capacity(claims.len());
        // Claims come in the order of the submissions.
        let mut claims = claims.into_iter().peekable();
        for (i, mut submission) in submissions.into_iter().enumerate() {
            if outcomes[i] == Outcome::Duplicate {
                continue;
            }
            if let Some((_, key, previous)) = claims.next_if(|(at, _, _)| *at == i) {
                if let Some(previous) = previous {
                    events.extend(supersede(&mut submission.event, previous));
                    submission.attached.clear();
                    outcomes[i] = Outcome::Updated;
                }
                if let Some((_, version)) = identify(&submission.event) {
                    stored.push((key, version));
                }
            }
            events.push(submission.event);
            events.append(&mut submission.attached);
        }
        if events.is_empty() {
            return Ok(outcomes);
        }
        let guard = Claims { memory: &self.memory, stored, resolved: false };
        match self.outbox.append(events).await {
            Ok(()) => {
                guard.resolve(true);
                Ok(outcomes)
            }
            Err(refused) => {
                guard.resolve(false);
                Err(refused)
            }
        }
    }
}

/// Claims on their way to disk. Dropped unresolved (the client went away
/// while its record waited for a group sync), they count as stored: the
/// record is in the group and is written with it.
struct Claims<'a> {
    memory: &'a Memory,
    stored: Vec<(Key, Version)>,
    resolved: bool,
}

impl Claims<'_> {
    fn resolve(mut self, stored: bool) {
        self.resolved = true;
        if stored {
            self.memory.commit(&self.stored);
        } else {
            self.memory.release(self.stored.iter().map(|(k, _)| k));
        }
    }
}

impl Drop for Claims<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.memory.commit(&self.stored);
        }
    }
}

impl EventSink for Deduped {
    fn submit(&self, submissions: Vec<Submission>) -> BoxFuture<'_, Result<Vec<Outcome>, Refused>> {
        Box::pin(self.submit_all(submissions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rows::{FeedbackRow, LetterRow};
    use uuid::Uuid;

    /// An outbox in memory that can refuse its first appends and takes a
    /// little time, so that concurrent submissions overlap.
    #[derive(Default)]
    struct Recorded {
        events: Mutex<Vec<Event>>,
        refuse: AtomicU64,
    }

    impl Outbox for Recorded {
        fn append(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), Refused>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if self.refuse.load(Ordering::Relaxed) > 0 {
                    self.refuse.fetch_sub(1, Ordering::Relaxed);
                    return Err(Refused::Busy);
                }
                self.events.lock().unwrap().extend(events);
                Ok(())
            })
        }
    }

    fn options() -> DedupeOptions {
        DedupeOptions { window: Duration::from_secs(3600), update_window: Duration::from_secs(7200), max_ids: 1000 }
    }

    fn sink() -> (Arc<Deduped>, Arc<Recorded>, Arc<Memory>) {
        let outbox = Arc::new(Recorded::default());
        let memory = Arc::new(Memory::new(options()));
        let clock = crate::domain::time::system_clock();
        (Arc::new(Deduped::new(memory.clone(), outbox.clone(), clock)), outbox, memory)
    }

    fn rating(id: Uuid, site: &str, score: u8) -> Event {
        // Arrived now: the memory's window is measured from it.
        Event::Feedback(FeedbackRow {
            received_at: unix(SystemTime::now()),
            ..crate::storage::rows::sample_rating(id, site, score)
        })
    }

    fn letter(id: Uuid, answered_at: Option<u32>) -> Event {
        Event::Letter(LetterRow {
            event_id: id,
            letter_id: "Л-1".into(),
            received_at: 10,
            acknowledged_at: Some(11),
            answered_at,
            updated_at: unix(SystemTime::now()),
            journey: String::new(),
            stage: String::new(),
            touchpoint: "email".into(),
            process: String::new(),
            segment: 0,
        })
    }

    async fn submit(sink: &Deduped, event: Event) -> Result<Vec<Outcome>, Refused> {
        sink.submit(vec![Submission::new(event)]).await
    }

    #[tokio::test]
    async fn concurrent_repeats_of_one_id_store_it_once() {
        let (sink, outbox, _) = sink();
        let event = rating(Uuid::new_v4(), "demo", 4);
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (sink, event) = (sink.clone(), event.clone());
                tokio::spawn(async move { submit(&sink, event).await })
            })
            .collect();
        let mut stored = 0;
        for task in tasks {
            stored += task.await.unwrap().unwrap().iter().filter(|o| **o == Outcome::Stored).count();
        }
        assert_eq!(stored, 1);
        assert_eq!(outbox.events.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refused_append_frees_the_id_for_the_retry() {
        let (sink, outbox, _) = sink();
        outbox.refuse.store(1, Ordering::Relaxed);
        let event = rating(Uuid::new_v4(), "demo", 4);
        assert_eq!(submit(&sink, event.clone()).await, Err(Refused::Busy));
        assert_eq!(submit(&sink, event.clone()).await, Ok(vec![Outcome::Stored]));
        assert_eq!(submit(&sink, event).await, Ok(vec![Outcome::Duplicate]));
        assert_eq!(outbox.events.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_same_id_twice_in_one_request_is_stored_once() {
        let (sink, outbox, _) = sink();
        let event = rating(Uuid::new_v4(), "demo", 4);
        let outcomes = sink.submit(vec![Submission::new(event.clone()), Submission::new(event)]).await.unwrap();
        assert_eq!(outcomes, [Outcome::Stored, Outcome::Duplicate]);
        assert_eq!(outbox.events.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_letter_update_supersedes_and_the_same_state_again_is_a_duplicate() {
        let (sink, outbox, _) = sink();
        let id = Uuid::new_v4();
        assert_eq!(submit(&sink, letter(id, None)).await, Ok(vec![Outcome::Stored]));
        assert_eq!(submit(&sink, letter(id, None)).await, Ok(vec![Outcome::Duplicate]));
        assert_eq!(submit(&sink, letter(id, Some(20))).await, Ok(vec![Outcome::Updated]));
        let events = outbox.events.lock().unwrap();
        let [Event::Letter(first), Event::Letter(second)] = &events[..] else { panic!("{events:?}") };
        assert!(second.updated_at > first.updated_at, "the update's version is later, even within one second");
        assert_eq!(second.answered_at, Some(20));
    }

    #[tokio::test]
    async fn a_second_click_takes_the_first_score_out_of_the_rollup_and_a_repeat_is_nothing() {
        let (sink, outbox, _) = sink();
        let id = Uuid::new_v4();
        submit(&sink, rating(id, "email", 2)).await.unwrap();
        assert_eq!(submit(&sink, rating(id, "email", 2)).await, Ok(vec![Outcome::Duplicate]));
        submit(&sink, rating(id, "email", 5)).await.unwrap();
        let events = outbox.events.lock().unwrap();
        let [Event::Feedback(first), Event::Correction(correction), Event::Feedback(second)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!((first.score, second.score), (2, 5));
        assert!(second.received_at > first.received_at);
        assert_eq!((correction.n, correction.sum, correction.negative), (-1, -25.0, -1), "csat 2 is 25 of 100");
        assert_eq!(correction.event_id, id);
        assert_eq!(correction.received_at, second.received_at);
    }

    #[tokio::test]
    async fn what_is_attached_goes_with_the_first_state_only() {
        let (sink, outbox, _) = sink();
        let id = Uuid::new_v4();
        let case = crate::storage::rows::CaseRow {
            event_id: id,
            opened_at: 1,
            journey: "j".into(),
            stage: "s".into(),
            touchpoint: "email".into(),
            unit: String::new(),
            reason: "low_score".into(),
            acknowledge_by: 2,
            answer_by: 3,
        };
        let with_case =
            |score| Submission { event: rating(id, "email", score), attached: vec![Event::Case(case.clone())] };
        assert_eq!(sink.submit(vec![with_case(1)]).await, Ok(vec![Outcome::Stored]));
        assert_eq!(sink.submit(vec![with_case(2)]).await, Ok(vec![Outcome::Updated]));
        let events = outbox.events.lock().unwrap();
        let cases = events.iter().filter(|e| matches!(e, Event::Case(_))).count();
        assert_eq!((events.len(), cases), (4, 1), "rating, case; correction, rating: {events:?}");
    }

    #[tokio::test]
    async fn an_id_older_than_the_window_is_new_again_and_expiry_forgets_it() {
        let (sink, outbox, memory) = sink();
        let now = unix(SystemTime::now());
        let Event::Feedback(mut old) = rating(Uuid::new_v4(), "demo", 3) else { unreachable!() };
        old.received_at = now - 3601;
        memory.remember(&Event::Feedback(old.clone()));
        old.received_at = now;
        assert_eq!(submit(&sink, Event::Feedback(old.clone())).await, Ok(vec![Outcome::Stored]));
        assert_eq!(outbox.events.lock().unwrap().len(), 1);
        assert_eq!(memory.stats().ids, 1);
        memory.expire(now + 3601);
        assert_eq!(memory.stats().ids, 0);
    }

    /// The README's memory figures: a slot is the entry plus one control byte.
    #[test]
    fn entries_are_24_and_40_bytes_as_the_readme_counts() {
        assert_eq!(std::mem::size_of::<(Key, u32)>(), 24);
        assert_eq!(std::mem::size_of::<(Key, Version)>(), 40);
    }

    #[test]
    fn past_its_cap_the_memory_forgets_its_oldest_and_counts_them() {
        let memory = Memory::new(DedupeOptions { max_ids: 16 * 8, ..options() });
        for at in 0..2000u32 {
            let id = Uuid::from_u128(u128::from(at) << 8);
            memory.insert(Key { kind: crate::domain::EventKind::Timing, id }, Version { at, fingerprint: 0 });
        }
        let stats = memory.stats();
        assert!(stats.ids <= 16 * 9, "{stats:?}");
        assert_eq!(stats.ids as u64 + stats.evicted, 2000);
    }
}
