//! Times as ClickHouse's `DateTime` stores them, and the window of time an
//! event may claim.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Invalid;

/// How far ahead of our clock a sender's clock may run.
pub const MAX_SKEW: Duration = Duration::from_secs(300);
/// How far back a client's `occurred_at` may lie (an offline phone retrying later).
pub const CLIENT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Staff systems log later: a nightly export of the telephony log, letters
/// registered after the fact.
pub const STAFF_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

/// Where "now" comes from: the system clock in production, a fixed one in
/// tests, so that no test depends on the day it runs.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// Seconds since the epoch, as the `DateTime` columns store them.
pub fn unix(t: SystemTime) -> u32 {
    u32::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).unwrap_or(u32::MAX)
}

/// An RFC 3339 time within [now − max_age, now + MAX_SKEW], as seconds.
pub fn within(field: &str, text: &str, now: SystemTime, max_age: Duration) -> Result<u32, Invalid> {
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| Invalid::new(field, format!("{text:?} is not an RFC 3339 time: {e}")))?;
    if t + max_age < now || t > now + MAX_SKEW {
        let days = max_age.as_secs() / 86_400;
        return Err(Invalid::new(
            field,
            format!("must lie within the last {days} days (and not ahead of the server's clock)"),
        ));
    }
    Ok(unix(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_relative_to_the_clock_given() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let at = |secs: u64| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string();
        assert_eq!(within("t", &at(2_000_000_000 - 86_400), now, CLIENT_MAX_AGE).unwrap(), 1_999_913_600);
        assert!(within("t", &at(2_000_000_000 - 8 * 86_400), now, CLIENT_MAX_AGE).is_err());
        assert!(within("t", &at(2_000_000_000 - 8 * 86_400), now, STAFF_MAX_AGE).is_ok());
        assert!(within("t", &at(2_000_000_000 + 301), now, STAFF_MAX_AGE).is_err());
        assert!(within("t", "yesterday", now, STAFF_MAX_AGE).is_err());
    }
}
