//! One stored copy of an event whichever instance its retries reach (issue
//! 28, item 22; migration 0028).
//!
//! Each instance's dedupe memory knows the ids it accepted; a client's retry
//! that a balancer sends to another instance is new there, and since the
//! rollups are fed by views on every INSERT, two copies would be counted
//! twice. So before inserting a round, the shipper claims each of the
//! round's events — `(kind, id, fingerprint)`, the fingerprint telling one
//! state of an updatable event from another — in `event_claims`, waits
//! [`SETTLE`] for a rival's claim to be visible (on a cluster it also
//! fetches what other replicas wrote), and reads every claim of those
//! events. An event whose earliest claim (by time in milliseconds, then
//! claimant) is another instance's is dropped from the round: that
//! instance stores it. Every shipper applies the same rule to the same rows,
//! so exactly one inserts each event.
//!
//! The claimant is the spool folder's, not the process's: a round retried
//! after a failed INSERT or a restart finds its own earlier claim the
//! earliest, and the shipper's replay check then decides row by row. An
//! instance that claimed and then lost its spool folder for good takes its
//! events with it, as it would without claims.
//!
//! Assumes what `claims` assumes: clocks agree within [`SETTLE`], and a
//! claim's INSERT takes less than it.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::claims::SETTLE;

/// How long a round waits for this replica to fetch the others' claims.
const SYNC_WITHIN: Duration = Duration::from_secs(5);
/// How often old days of claims are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// A round's claims, made: when, and from when they may be read.
pub(crate) struct Claimed {
    at_ms: u64,
    settled: tokio::time::Instant,
    keys: HashSet<ClaimKey>,
}

/// What is claimed: one event, or one state of an updatable one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClaimKey {
    pub kind: u8,
    pub id: Uuid,
    pub fingerprint: u64,
}

#[derive(Row, Serialize, Deserialize)]
struct ClaimRow {
    kind: u8,
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    fingerprint: u64,
    at_ms: u64,
    #[serde(with = "clickhouse::serde::uuid")]
    claimant: Uuid,
}

/// Those of `keys`, claimed by `this` (time, claimant), whose earliest
/// claim among `others` (every other claim of them) is another claimant's
/// and earlier: a claimant's own earlier claim (a round retried) keeps them.
fn lost(keys: HashSet<ClaimKey>, this: (u64, Uuid), others: Vec<ClaimRow>) -> HashSet<ClaimKey> {
    let mut first: HashMap<ClaimKey, (u64, Uuid)> = HashMap::new();
    for row in others {
        let key = ClaimKey { kind: row.kind, id: row.id, fingerprint: row.fingerprint };
        let claim = (row.at_ms, row.claimant);
        first.entry(key).and_modify(|c| *c = (*c).min(claim)).or_insert(claim);
    }
    let mine = |k: &ClaimKey| first.get(k).is_none_or(|earliest| *earliest > this || earliest.1 == this.1);
    keys.into_iter().filter(|k| !mine(k)).collect()
}

/// The claimant of the spool folder `dir`: made at its first use, kept in
/// `<dir>/instance`.
pub(crate) fn claimant(dir: &Path) -> std::io::Result<Uuid> {
    let path = dir.join("instance");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(id) = text.trim().parse()
    {
        return Ok(id);
    }
    let id = Uuid::new_v4();
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
    file.write_all(id.to_string().as_bytes())?;
    file.sync_all()?;
    // The file's name too: a claimant lost in a crash would make this
    // instance take its own earlier claims for another's.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(id)
}

/// The shipper's claims.
pub(crate) struct EventClaims {
    client: Client,
    claimant: Uuid,
    /// On a cluster: fetch other replicas' claims before reading.
    replicated: bool,
    /// How long claims are kept: the longest dedupe window, and a day.
    kept: Duration,
    /// The time of the last round's claims: each round's is later.
    last_ms: AtomicU64,
    swept: Mutex<Option<Instant>>,
}

impl EventClaims {
    pub fn new(client: Client, claimant: Uuid, replicated: bool, kept: Duration) -> EventClaims {
        EventClaims { client, claimant, replicated, kept, last_ms: AtomicU64::new(0), swept: Mutex::new(None) }
    }

    /// Claims `keys`: the first half of [`EventClaims::lost`].
    pub async fn claim(&self, keys: HashSet<ClaimKey>) -> clickhouse::error::Result<Claimed> {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let at_ms = now.max(self.last_ms.load(Ordering::Relaxed) + 1);
        self.last_ms.store(at_ms, Ordering::Relaxed);
        let settled = tokio::time::Instant::now() + SETTLE;
        if keys.is_empty() {
            return Ok(Claimed { at_ms, settled, keys: HashSet::new() });
        }
        let started = tokio::time::Instant::now();
        let mut insert = self.client.insert::<ClaimRow>("event_claims").await?;
        for k in &keys {
            let row = ClaimRow { kind: k.kind, id: k.id, fingerprint: k.fingerprint, at_ms, claimant: self.claimant };
            insert.write(&row).await?;
        }
        insert.end().await?;
        let took = started.elapsed();
        if took > SETTLE / 2 {
            // The rule assumes a claim is visible within the settle time.
            tracing::warn!(took = ?took, settle = ?SETTLE, "an event claims INSERT was slow");
        }
        Ok(Claimed { at_ms, settled, keys })
    }

    /// Once the claims have settled, those of `claimed` another instance
    /// claimed first.
    pub async fn lost(&self, claimed: Claimed) -> anyhow::Result<HashSet<ClaimKey>> {
        if claimed.keys.is_empty() {
            return Ok(HashSet::new());
        }
        tokio::time::sleep_until(claimed.settled).await;
        if self.replicated {
            // Bounded, and then shipping goes on: a replica that cannot fetch a
            // claim part of another that went down mid-replication would
            // otherwise stop every round until that one is back. What is not
            // fetched by then is left to the settle time alone.
            let sync = self.client.query("SYSTEM SYNC REPLICA event_claims").execute();
            match tokio::time::timeout(SYNC_WITHIN, sync).await {
                Ok(result) => result?,
                Err(_) => tracing::warn!(
                    within = ?SYNC_WITHIN,
                    "this replica has not fetched every other replica's event claims; shipping on"
                ),
            }
        }
        // Every other claim of this round's ids (this round's own are found
        // by their time): another instance's, or this one's from an earlier
        // attempt; usually none. One read, whatever the round's size.
        let sql = "SELECT ?fields FROM event_claims \
                   WHERE id IN (SELECT id FROM event_claims WHERE at_ms = ? AND claimant = toUUID(?)) \
                   AND NOT (at_ms = ? AND claimant = toUUID(?))";
        let me = self.claimant.to_string();
        let rows = self
            .client
            .query(sql)
            .bind(claimed.at_ms)
            .bind(&me)
            .bind(claimed.at_ms)
            .bind(&me)
            .fetch_all::<ClaimRow>()
            .await?;
        Ok(lost(claimed.keys, (claimed.at_ms, self.claimant), rows))
    }

    /// Drops the days of claims older than they are kept, at most once an
    /// hour. Every instance may: a day dropped twice is dropped.
    pub async fn sweep(&self) {
        {
            let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
            if swept.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
                return;
            }
            *swept = Some(Instant::now());
        }
        let sql = "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() \
                   AND table = 'event_claims' AND active \
                   AND toUInt32(partition) < toYYYYMMDD(now() - ?)";
        let old: Vec<String> = match self.client.query(sql).bind(self.kept.as_secs()).fetch_all().await {
            Ok(old) => old,
            Err(e) => return tracing::warn!(error = %e, "cannot list the old days of event claims"),
        };
        for day in old.iter().filter(|d| d.parse::<u32>().is_ok()) {
            let drop = format!("ALTER TABLE event_claims DROP PARTITION {day}");
            if let Err(e) = self.client.query(&drop).execute().await {
                tracing::warn!(error = %e, day, "cannot drop a day of event claims");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> ClaimKey {
        ClaimKey { kind: 0, id: Uuid::from_u128(n), fingerprint: 0 }
    }

    fn row(k: ClaimKey, at_ms: u64, claimant: Uuid) -> ClaimRow {
        ClaimRow { kind: k.kind, id: k.id, fingerprint: k.fingerprint, at_ms, claimant }
    }

    #[test]
    fn the_earliest_claim_wins_and_a_claimants_own_earlier_claim_is_its_own() {
        let (me, other) = (Uuid::from_u128(7), Uuid::from_u128(3));
        let (earlier, later, retried, unseen) = (key(1), key(2), key(3), key(4));
        let others = vec![
            row(earlier, 900, other),
            row(later, 1100, other),
            // This instance claimed it first in an attempt that failed; the other came between.
            row(retried, 800, me),
            row(retried, 950, other),
        ];
        let keys = HashSet::from([earlier, later, retried, unseen]);
        assert_eq!(lost(keys, (1000, me), others), HashSet::from([earlier]));
        // The same time: the claimant decides, the same way on every instance.
        let tie = vec![row(earlier, 1000, other)];
        assert_eq!(lost(HashSet::from([earlier]), (1000, me), tie), HashSet::from([earlier]));
        let tie = vec![row(earlier, 1000, me)];
        assert!(lost(HashSet::from([earlier]), (1000, other), tie).is_empty());
    }
}
