//! How often a login or an API token may be guessed wrong.
//!
//! Only failures are counted, each in a leaky bucket that refills one
//! failure per `refill`. An attempt is counted when it starts and given back
//! when it succeeds, so that many logins sent at once cannot all pass the
//! check before the first of them fails:
//! - per address and account name, and per address alone: over the burst,
//!   that address is refused (429) until its bucket drains;
//! - per account name from every address: over the burst, each further
//!   attempt is slowed down, never refused, so a stranger who knows a name
//!   cannot lock its analyst out;
//! - wrong API tokens per address: refused like a login.
//!
//! IPv6 addresses count by their /64 (what one client usually holds). Keys
//! are kept as 64-bit keyed hashes, so a long account name costs no memory,
//! and each ledger forgets drained buckets and holds at most
//! [`Ledger::CAPACITY`] keys: when full, the emptiest tenth makes room.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failure counts for one kind of key.
pub struct Ledger {
    burst: f64,
    refill: Duration,
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    /// Failures not yet drained, as of `at`.
    spent: f64,
    at: Instant,
}

impl Bucket {
    fn now(self, at: Instant, refill: Duration) -> f64 {
        let drained = at.saturating_duration_since(self.at).as_secs_f64() / refill.as_secs_f64();
        (self.spent - drained).max(0.0)
    }
}

impl Ledger {
    /// Keys a ledger remembers at most (about 540 KiB of map).
    pub const CAPACITY: usize = 10_000;

    pub fn new(burst: u32, refill: Duration) -> Ledger {
        Ledger {
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
            hasher: RandomState::new(),
            buckets: Mutex::default(),
        }
    }

    fn key(&self, key: impl Hash) -> u64 {
        self.hasher.hash_one(key)
    }

    /// How long until `key` may fail again, if its burst is used up.
    pub fn wait(&self, key: impl Hash, now: Instant) -> Option<Duration> {
        let key = self.key(key);
        let spent = self.buckets().get(&key)?.now(now, self.refill);
        let over = spent + 1.0 - self.burst;
        (over > 0.0).then(|| self.refill.mul_f64(over))
    }

    /// Counts one failure of `key`.
    pub fn fail(&self, key: impl Hash, now: Instant) {
        let key = self.key(key);
        let mut buckets = self.buckets();
        if !buckets.contains_key(&key) && buckets.len() >= Self::CAPACITY {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { spent: 0.0, at: now });
        *bucket = Bucket { spent: bucket.now(now, self.refill) + 1.0, at: now };
    }

    /// Gives back one failure counted for `key`.
    pub fn refund(&self, key: impl Hash, now: Instant) {
        let key = self.key(key);
        if let Some(bucket) = self.buckets().get_mut(&key) {
            *bucket = Bucket { spent: (bucket.now(now, self.refill) - 1.0).max(0.0), at: now };
        }
    }

    /// Forgets drained buckets; if none is, the emptiest tenth.
    fn make_room(&self, buckets: &mut HashMap<u64, Bucket>, now: Instant) {
        buckets.retain(|_, b| b.now(now, self.refill) > 0.0);
        if buckets.len() >= Self::CAPACITY {
            let mut spent: Vec<f64> = buckets.values().map(|b| b.now(now, self.refill)).collect();
            let tenth = spent.len() / 10;
            let (_, line, _) = spent.select_nth_unstable_by(tenth, f64::total_cmp);
            let line = *line;
            buckets.retain(|_, b| b.now(now, self.refill) > line);
        }
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Bucket>> {
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets().len()
    }
}

/// The client an attempt is counted against: an IPv6 address by its /64.
pub fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// What the login and token checks consult before and after each attempt.
pub struct Throttle {
    /// Per address and account name: refuses.
    pair: Ledger,
    /// Per address, any name, and wrong API tokens: refuses.
    address: Ledger,
    /// Per account name, any address: slows down.
    name: Ledger,
    /// Longest a login for a much-guessed name is held back.
    max_delay: Duration,
}

/// Whether an attempt may go on.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on now.
    Go,
    /// Go on after this pause (the name is being guessed from elsewhere).
    After(Duration),
    /// Refused: this address may try again after this long.
    Refused(Duration),
}

impl Throttle {
    pub fn new(burst: u32, address_burst: u32, refill: Duration) -> Throttle {
        Throttle {
            pair: Ledger::new(burst, refill),
            address: Ledger::new(address_burst, refill),
            name: Ledger::new(burst, refill),
            max_delay: Duration::from_secs(2),
        }
    }

    /// Before checking a password; an attempt that may go on is counted as
    /// failed until [`Throttle::login_succeeded`] gives it back.
    pub fn login(&self, ip: IpAddr, name: &str, now: Instant) -> Verdict {
        let ip = client(ip);
        let refused = [self.address.wait(ip, now), self.pair.wait((ip, name), now)].into_iter().flatten().max();
        if let Some(wait) = refused {
            return Verdict::Refused(wait);
        }
        let verdict = match self.name.wait(name, now) {
            Some(wait) => Verdict::After(wait.min(self.max_delay)),
            None => Verdict::Go,
        };
        self.address.fail(ip, now);
        self.pair.fail((ip, name), now);
        self.name.fail(name, now);
        verdict
    }

    /// After the right name and password: the attempt was not a failure.
    pub fn login_succeeded(&self, ip: IpAddr, name: &str, now: Instant) {
        let ip = client(ip);
        self.address.refund(ip, now);
        self.pair.refund((ip, name), now);
        self.name.refund(name, now);
    }

    /// Before looking up an API token: refused after too many wrong ones.
    /// Counted after the look-up, not before as a login is: a token is
    /// 256 random bits and its check costs a hash, so nothing is gained by
    /// holding back a script's many requests sent at once.
    pub fn token(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        self.address.wait(("token", client(ip)), now)
    }

    pub fn token_failed(&self, ip: IpAddr, now: Instant) {
        self.address.fail(("token", client(ip)), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn failures_for_one_name_from_many_addresses_slow_it_down_without_locking_it() {
        let t = Throttle::new(4, 20, MIN);
        let now = Instant::now();
        for a in 1..=10 {
            assert!(!matches!(t.login(ip(a), "olga", now), Verdict::Refused(_)));
        }
        match t.login(ip(99), "olga", now) {
            Verdict::After(pause) => assert!(pause <= Duration::from_secs(2) && pause > Duration::ZERO),
            other => panic!("the name is slowed down, not refused: {other:?}"),
        }
        assert_eq!(t.login(ip(99), "ivan", now), Verdict::Go, "other names are not touched");
    }

    #[test]
    fn one_address_is_refused_per_name_and_over_all_names_and_drains_back() {
        let t = Throttle::new(4, 6, MIN);
        let now = Instant::now();
        for _ in 0..4 {
            assert!(!matches!(t.login(ip(1), "olga", now), Verdict::Refused(_)));
        }
        assert!(matches!(t.login(ip(1), "olga", now), Verdict::Refused(w) if w <= MIN && w > Duration::ZERO));
        assert!(!matches!(t.login(ip(2), "olga", now), Verdict::Refused(_)), "another address still may");
        assert!(!matches!(t.login(ip(1), "ivan", now), Verdict::Refused(_)), "under the address's own burst");
        t.login(ip(1), "petr", now);
        assert!(matches!(t.login(ip(1), "anna", now), Verdict::Refused(_)), "six failures over any names");
        t.login_succeeded(ip(1), "petr", now);
        assert!(!matches!(t.login(ip(1), "anna", now), Verdict::Refused(_)), "a success is given back");
        assert!(matches!(t.login(ip(1), "anna", now + MIN * 3), Verdict::Go | Verdict::After(_)), "drained");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_prefix() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client(mapped), ip(1));
    }

    #[test]
    fn wrong_tokens_are_refused_per_address() {
        let t = Throttle::new(4, 3, MIN);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.token(ip(1), now), None);
            t.token_failed(ip(1), now);
        }
        assert!(t.token(ip(1), now).is_some());
        assert_eq!(t.token(ip(2), now), None);
        assert_eq!(t.login(ip(1), "olga", now), Verdict::Go, "token guesses and logins are counted apart");
    }

    #[test]
    fn a_ledger_keeps_at_most_its_capacity_and_the_hot_keys() {
        let ledger = Ledger::new(3, MIN);
        let now = Instant::now();
        for _ in 0..3 {
            ledger.fail("attacker", now);
        }
        for i in 0..(Ledger::CAPACITY * 3) {
            ledger.fail("x".repeat(200) + &i.to_string(), now);
        }
        assert!(ledger.len() <= Ledger::CAPACITY, "{} keys", ledger.len());
        assert!(ledger.wait("attacker", now).is_some(), "the fullest bucket is not the one evicted");
    }
}
