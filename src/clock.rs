//! The expiry clock: milliseconds since the first use in this process.
//!
//! Reading `Instant::now()` costs about 34 ns here and `rdtsc` 14 ns, against
//! a 10 ns cache hit, so the hit path reads a *coarse* clock instead: one
//! relaxed atomic load of a millisecond counter that a background thread (the
//! ticker, one per process, started by the first insert with a deadline)
//! advances every millisecond. Only an entry within `NEAR` of its deadline by
//! the coarse clock is checked against the precise clock, so `get` returns an
//! entry past its deadline only if the ticker was starved of CPU for more than
//! `NEAR` (32 ms). Entries without a deadline never read any clock.

use crate::sync::unmodeled::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The deadline of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;

/// How close to its deadline an entry is checked against the precise clock.
const NEAR: u64 = 32;

/// The coarse clock in milliseconds, plus one; zero while no ticker runs.
static COARSE: AtomicU64 = AtomicU64::new(0);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// The precise clock, in milliseconds.
pub(crate) fn now() -> u64 {
    origin().elapsed().as_millis() as u64
}

/// The deadline `ttl` from now: saturates, so an absurd duration never expires.
/// A duration below one millisecond rounds up to one.
pub(crate) fn deadline_after(ttl: Duration) -> u64 {
    start_ticker();
    let millis = u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(NEVER);
    now().saturating_add(millis).min(NEVER - 1)
}

/// Whether an entry with `deadline` has expired.
#[inline]
pub(crate) fn expired(deadline: u64) -> bool {
    if deadline == NEVER {
        return false;
    }
    // Relaxed: the counter is a hint; the precise clock decides near the end.
    let coarse = COARSE.load(Ordering::Relaxed);
    if coarse != 0 && deadline > coarse - 1 + NEAR {
        return false;
    }
    now() >= deadline
}

/// Starts the process's ticker once. If the thread cannot be spawned (or under
/// Miri, which would report it as leaked), every check uses the precise clock.
fn start_ticker() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        if cfg!(any(miri, epoch_cache_loom)) {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("epoch-cache-clock".into())
            .spawn(|| loop {
                // Relaxed: readers treat the value as a hint (see `expired`).
                COARSE.store(now() + 1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            });
    });
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        assert!(!expired(NEVER));
        assert_eq!(deadline_after(Duration::MAX), NEVER - 1);
        assert!(!expired(deadline_after(Duration::from_secs(60))));
        assert!(expired(now()));
        let soon = deadline_after(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(10));
        assert!(expired(soon));
    }
}
