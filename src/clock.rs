//! The expiry clock: milliseconds since the first use in this process.
//!
//! Reading `Instant::now()` costs about 34 ns here and `rdtsc` 14 ns, against
//! a 10 ns cache hit, so the hit path reads a *coarse* clock instead: one
//! relaxed atomic load of a millisecond horizon that a background thread (the
//! ticker, one per process, started by the first insert with a deadline)
//! advances every millisecond. Only an entry within `NEAR` of its deadline by
//! the coarse clock is checked against the precise clock, so `get` returns an
//! entry past its deadline only if the ticker was starved of CPU for more than
//! `NEAR` (32 ms). Entries without a deadline never read any clock.
//!
//! The ticker runs only while a cache needs it: each cache that gives an
//! entry a deadline counts itself a user of the clock (`ClockUser`) until it
//! is dropped, and the last one to go stops the ticker, which exits at its
//! next tick; the next deadline starts a new one.
//!
//! A child of `fork` inherits no thread, so no ticker, and a horizon frozen at
//! the fork that, trusted, would keep its entries alive forever. A
//! `pthread_atfork` child handler, registered before the first ticker starts,
//! stops the clock in the child instead: every check reads the precise clock
//! until the child's own ticker runs, which the next deadline or the next
//! check of one starts, so a child that only reads gets it back too. (A child
//! made without running atfork handlers, by a raw `clone` or `_Fork`, is not
//! covered.) A hook in `fork` costs nothing on the hit path, where checking
//! the process id or the ticker's heartbeat would cost a system call or a
//! read of the precise clock.

use crate::sync::unmodeled::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The deadline of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;

/// How close to its deadline an entry is checked against the precise clock.
const NEAR: u64 = 32;

/// The horizon while no ticker runs: no deadline lies beyond it, so every
/// check reads the precise clock.
const STOPPED: u64 = u64::MAX;

/// The coarse clock plus `NEAR`: a deadline beyond it has not passed. Advanced
/// by the ticker; `STOPPED` while none runs in this process.
// Invariant: `STOPPED`, or `now() + NEAR` as of some past moment, so never
// ahead of the precise clock plus `NEAR`.
static HORIZON: AtomicU64 = AtomicU64::new(STOPPED);

/// The ticker's generation, odd from the moment one is elected to start until
/// the clock is stopped; a ticker runs while the generation is still the one
/// it was started in.
// Invariant: at most one ticker per generation. An odd generation without a
// ticker (the spawn or the fork handler failed) is never retried in this
// process: the precise clock serves every check.
static TICKER: AtomicU64 = AtomicU64::new(0);

/// How many live caches have given an entry a deadline (`ClockUser`).
static USERS: AtomicU64 = AtomicU64::new(0);

/// Whether `stop_after_fork` is registered to run in forked children.
static FORK_HANDLER: AtomicBool = AtomicBool::new(false);

/// How many tickers were spawned and have not exited, for the tests.
#[cfg(test)]
static TICKERS: AtomicU64 = AtomicU64::new(0);

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
    // Relaxed: the horizon is a hint that orders nothing else; a stale one
    // only sends more checks to the precise clock (see `HORIZON`).
    let horizon = HORIZON.load(Ordering::Relaxed);
    if deadline > horizon {
        return false;
    }
    expired_near(deadline, horizon)
}

/// `expired` for a deadline not beyond the horizon: a near one, or any while
/// the clock is stopped.
#[cold]
#[inline(never)]
fn expired_near(deadline: u64, horizon: u64) -> bool {
    if deadline == NEVER {
        return false;
    }
    if horizon == STOPPED {
        // A forked child that only reads restarts its clock here.
        start_ticker();
    }
    now() >= deadline
}

/// `expired(deadline)` and the coarse clock at once, for a hit that checks
/// an idle deadline and may refresh it: `None` if `deadline` has expired,
/// otherwise the coarse clock, the precise clock as of the ticker's last
/// tick (so at most a tick, or a starvation, behind and never ahead; the
/// precise clock while no ticker runs). One relaxed load.
#[inline]
pub(crate) fn unexpired_now(deadline: u64) -> Option<u64> {
    // Relaxed: a hint, as in `expired`.
    let horizon = HORIZON.load(Ordering::Relaxed);
    if deadline > horizon {
        // So the horizon is not `STOPPED` (the largest value).
        return Some(horizon.saturating_sub(NEAR));
    }
    unexpired_now_near(deadline, horizon)
}

/// `unexpired_now` for a deadline not beyond the horizon.
#[cold]
#[inline(never)]
fn unexpired_now_near(deadline: u64, horizon: u64) -> Option<u64> {
    if expired_near(deadline, horizon) {
        return None;
    }
    Some(if horizon == STOPPED {
        now()
    } else {
        horizon.saturating_sub(NEAR)
    })
}

/// Starts a ticker unless one runs, is starting or could not start in this
/// process: once per process, and once more in each forked child. If the
/// thread cannot be spawned (or under Miri, which would report it as leaked),
/// every check uses the precise clock.
fn start_ticker() {
    if cfg!(any(miri, epoch_cache_loom)) {
        return;
    }
    // Relaxed: a stale even value only costs a failed CAS below.
    let stopped = TICKER.load(Ordering::Relaxed);
    if stopped % 2 == 1 {
        return;
    }
    let generation = stopped.wrapping_add(1);
    // Relaxed on success: the CAS only elects this thread to start the
    // generation's ticker, and the ticker publishes nothing but the horizon.
    // Relaxed on failure: another thread was elected, or the clock was
    // stopped again and will be restarted by the next check; nothing to read.
    if TICKER
        .compare_exchange(stopped, generation, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    // Relaxed: only an elected starter touches the flag; one that misses an
    // earlier registration registers the handler twice, which is harmless
    // (`stop_after_fork` is idempotent).
    if !FORK_HANDLER.load(Ordering::Relaxed) {
        extern "C" fn in_child() {
            stop_after_fork();
        }
        if !crate::raw::fork::run_in_forked_children(in_child) {
            return; // no ticker then: its forked children's clocks would freeze
        }
        FORK_HANDLER.store(true, Ordering::Relaxed);
    }
    let spawned = std::thread::Builder::new()
        .name("epoch-cache-clock".into())
        .spawn(move || tick(generation));
    #[cfg(test)]
    if spawned.is_ok() {
        TICKERS.fetch_add(1, Ordering::Relaxed);
    }
    drop(spawned);
}

/// The ticker's loop: advances the horizon every millisecond while
/// `generation` is current.
fn tick(generation: u64) {
    let mut last = STOPPED;
    // Relaxed: a ticker that sees a newer generation late only stores a few
    // more horizons, each as valid as any (see `HORIZON`).
    while TICKER.load(Ordering::Relaxed) == generation {
        last = now() + NEAR;
        // Relaxed: readers treat the value as a hint (see `expired`).
        HORIZON.store(last, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1));
    }
    // Superseded: no one advances `last` any more, so take it back unless a
    // newer ticker already overwrote it. Relaxed on both: only this location
    // matters, and `STOPPED` is always safe (it sends checks to the precise
    // clock, and the next one restarts a ticker if none runs).
    let _ = HORIZON.compare_exchange(last, STOPPED, Ordering::Relaxed, Ordering::Relaxed);
    #[cfg(test)]
    TICKERS.fetch_sub(1, Ordering::Relaxed);
}

/// A cache's claim on the ticker: made on the cache's first deadline, given
/// up when the cache is dropped. The ticker stops when the last claim goes.
#[derive(Debug, Default)]
pub(crate) struct ClockUser {
    counted: AtomicBool,
}

impl ClockUser {
    /// Counts the cache as a user of the clock, once; call before making a
    /// deadline.
    #[inline]
    pub(crate) fn claim(&self) {
        // Relaxed: the flag only keeps this cache from being counted twice,
        // which the swap below settles.
        if !self.counted.load(Ordering::Relaxed) {
            self.claim_once();
        }
    }

    #[cold]
    fn claim_once(&self) {
        // Relaxed on both: the count orders nothing. A claim racing with the
        // last drop elsewhere may see that drop stop the ticker just after
        // its own deadline found one running; the clock is then stopped,
        // which is always safe (every check reads the precise clock) and
        // undone by the next check of a near deadline or the next deadline.
        if !self.counted.swap(true, Ordering::Relaxed) {
            USERS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for ClockUser {
    fn drop(&mut self) {
        // Relaxed: as in `claim_once`; a ticker stopped too early is
        // restarted on demand, one left running by a race stops with the
        // next cache dropped.
        if *self.counted.get_mut() && USERS.fetch_sub(1, Ordering::Relaxed) == 1 {
            stop();
        }
    }
}

/// Stops the clock, as in a forked child, which inherits no ticker: checks
/// read the precise clock until the next check or deadline starts a ticker.
/// A ticker still running (never in a real child) exits at its next tick.
///
/// Async-signal-safe, as a `pthread_atfork` child handler must be: it does
/// only lock-free atomic operations and cannot panic.
pub(crate) fn stop_after_fork() {
    stop();
}

/// Stops the clock: the ticker exits at its next tick, and checks read the
/// precise clock until a new one starts. Async-signal-safe (see
/// `stop_after_fork`).
fn stop() {
    // Relaxed: in a child no other thread runs; elsewhere, either order
    // against the generation below leaves a safe horizon (see `tick`).
    HORIZON.store(STOPPED, Ordering::Relaxed);
    // Relaxed on both: the generation orders nothing else; the new one is
    // even (stopped) and differs from any running ticker's, so that ticker
    // exits and the next `start_ticker` elects a new one.
    let _ = TICKER.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |generation| {
        Some((generation | 1).wrapping_add(1))
    });
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    /// Waits up to a second for `ready`.
    fn eventually(mut ready: impl FnMut() -> bool) -> bool {
        (0..1_000).any(|_| {
            std::thread::sleep(Duration::from_millis(1));
            ready()
        })
    }

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

    /// A stopped clock, as in a forked child, is restarted by a reader alone,
    /// replaces its ticker rather than adding one, and meanwhile stays exact.
    #[test]
    #[cfg_attr(miri, ignore = "no ticker under Miri")]
    fn restarts_after_fork() {
        // A claim of our own, so that no other test's cache, dropped
        // meanwhile, stops the clock under this one.
        let user = ClockUser::default();
        user.claim();
        let far = deadline_after(Duration::from_secs(60));
        let running = || HORIZON.load(Ordering::Relaxed) != STOPPED;
        let one_ticker = || TICKERS.load(Ordering::Relaxed) == 1;
        assert!(eventually(|| running() && one_ticker()), "one ticker runs");
        for _ in 0..100 {
            start_ticker(); // a running (or starved) ticker is not duplicated
        }
        assert!(one_ticker());

        let before = TICKER.load(Ordering::Relaxed);
        stop_after_fork();
        assert_ne!(TICKER.load(Ordering::Relaxed), before);
        assert!(expired(now()), "a stopped clock reads the precise one");
        assert!(!expired(now() + 1_000));
        // Only reads from here on: they restart the clock.
        let restarted = || !expired(far) && TICKER.load(Ordering::Relaxed) % 2 == 1;
        assert!(eventually(restarted), "a reader restarted the clock");
        assert!(eventually(|| running() && one_ticker()), "the old one left");
        std::thread::sleep(Duration::from_millis(20));
        assert!(one_ticker() && running(), "and no other came");
        let soon = now() + 5;
        std::thread::sleep(Duration::from_millis(10));
        assert!(expired(soon));
    }
}
