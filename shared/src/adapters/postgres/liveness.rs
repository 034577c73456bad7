//! When the pool checks a connection before handing it out: only after a pause.
//!
//! sqlx pings every connection it hands out by default, one round trip per acquire. A
//! connection in use a moment ago is alive; one that sat idle may have been closed by RDS
//! Proxy or Postgres, and after a Lambda is thawed every connection sat idle, however short
//! the monotonic clock says the pause was. So the pool pings a connection idle for a second
//! or more; on an acquire that comes a second or more after the previous one by the wall
//! clock (a pause, process-wide); and any connection idle since before the last pause.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Idle time after which a connection is pinged before use.
pub const PAUSE: Duration = Duration::from_secs(1);

/// Wall-clock milliseconds of the last acquire, process-wide.
static LAST_ACQUIRE_MS: AtomicI64 = AtomicI64::new(0);
/// Monotonic nanoseconds (since [`base`]) when the last pause was seen; 0: none yet.
static LAST_PAUSE_NS: AtomicU64 = AtomicU64::new(0);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// What the clocks say about an acquire.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    /// Wall-clock time since the previous acquire (None: the clock went backwards).
    pub since_last_acquire: Option<Duration>,
    /// Monotonic time since the last pause was seen (None: none yet).
    pub since_last_pause: Option<Duration>,
}

/// Whether a connection idle for `idle_for` (monotonic) must be pinged before use.
pub fn needs_ping(idle_for: Duration, clocks: Clocks) -> bool {
    idle_for >= PAUSE
        || clocks.since_last_acquire.is_none_or(|gap| gap >= PAUSE)
        || clocks.since_last_pause.is_some_and(|since| idle_for >= since)
}

/// Records an acquire now (and a pause, if no acquire came for a second).
pub fn acquired_now() -> Clocks {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let wall = i64::try_from(wall).unwrap_or(i64::MAX);
    let previous = LAST_ACQUIRE_MS.swap(wall, Ordering::Relaxed);
    let since_last_acquire = u64::try_from(wall - previous).ok().map(Duration::from_millis);
    let now = u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX).max(1);
    if since_last_acquire.is_none_or(|gap| gap >= PAUSE) {
        LAST_PAUSE_NS.store(now, Ordering::Relaxed);
    }
    let pause = LAST_PAUSE_NS.load(Ordering::Relaxed);
    Clocks {
        since_last_acquire,
        since_last_pause: (pause > 0).then(|| Duration::from_nanos(now.saturating_sub(pause))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn clocks(since_last_acquire: u64, since_last_pause: u64) -> Clocks {
        Clocks { since_last_acquire: Some(ms(since_last_acquire)), since_last_pause: Some(ms(since_last_pause)) }
    }

    #[test]
    fn a_connection_in_steady_use_is_handed_out_without_a_ping() {
        assert!(!needs_ping(ms(3), clocks(1, 60_000)));
    }

    #[test]
    fn a_connection_idle_for_a_second_is_pinged() {
        assert!(needs_ping(Duration::from_secs(1), clocks(1, 60_000)));
    }

    #[test]
    fn after_a_pause_by_the_wall_clock_the_next_connection_is_pinged() {
        // A thawed Lambda: the monotonic clock saw no pause, the wall clock did.
        assert!(needs_ping(ms(2), clocks(90_000, 0)));
    }

    #[test]
    fn a_connection_idle_since_before_the_last_pause_is_pinged_and_one_used_since_is_not() {
        // The second connection of the first request after a thaw: idle for 400 ms by the
        // monotonic clock, the pause seen 5 ms ago.
        assert!(needs_ping(ms(400), clocks(5, 5)));
        // A connection used (or pinged) after the pause.
        assert!(!needs_ping(ms(2), clocks(5, 5)));
    }

    #[test]
    fn a_clock_that_went_backwards_means_a_ping() {
        assert!(needs_ping(Duration::ZERO, Clocks { since_last_acquire: None, since_last_pause: None }));
    }

    #[test]
    fn the_first_acquire_of_a_process_is_a_pause_and_the_next_one_is_not() {
        // The wall clock starts at the epoch.
        let first = acquired_now();
        assert!(needs_ping(Duration::ZERO, first));
        let next = acquired_now();
        assert!(next.since_last_acquire.is_some_and(|gap| gap < PAUSE), "{next:?}");
        assert!(next.since_last_pause.is_some(), "{next:?}");
    }
}
