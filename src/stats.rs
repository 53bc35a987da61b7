//! Per-thread statistics: a hit writes only its own thread's counter.

use crate::raw::per_thread::{PerThread, Registry, ThreadData};
use crate::sync::unmodeled::{AtomicU64, Ordering};
use crate::sync::{const_thread_local, LocalKey};
use crate::RemovalCause;

/// A snapshot of a cache's counters, from [`Cache::stats`](crate::Cache::stats).
///
/// Exact when taken from the only thread that used the cache, or once the
/// other threads have finished with it; a snapshot taken while they run may
/// miss their latest operations.
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, u64> = Cache::builder().capacity(10).record_stats(true).build()?;
/// cache.insert(1, 1);
/// cache.get(&1);
/// cache.get(&2);
/// let s = cache.stats();
/// assert_eq!((s.hits, s.misses, s.inserts), (1, 1, 1));
/// assert_eq!(s.hit_ratio(), 0.5);
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found their key.
    pub hits: u64,
    /// Lookups that did not (including keys found expired).
    pub misses: u64,
    /// Calls that stored a value: inserts, replaces and initialised loads.
    pub inserts: u64,
    /// Entries pushed out to make room ([`RemovalCause::Evicted`]).
    pub evictions: u64,
    /// Entries unlinked because their time to live ran out.
    pub expirations: u64,
    /// Entries removed by `remove`, `retain` or `clear`.
    pub removals: u64,
}

impl CacheStats {
    /// Hits over lookups; 0 before any lookup.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(10).record_stats(true).build()?;
    /// cache.insert(1, 1);
    /// assert!(cache.get(&1).is_some() && cache.get(&2).is_none());
    /// assert_eq!(cache.stats().hit_ratio(), 0.5);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    removals: AtomicU64,
}

impl ThreadData for Counters {
    fn registry() -> &'static LocalKey<Registry<Self>> {
        const_thread_local! {
            static COUNTERS: Registry<Counters> = Registry::new();
        }
        &COUNTERS
    }
}

/// Adds one to a counter that several threads may write.
#[cold]
#[inline(never)]
fn count_shared(counter: &AtomicU64) {
    // Relaxed: a counter.
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counters kept per thread and summed on demand.
#[derive(Default)]
pub(crate) struct Stats {
    /// A thread's counters pass to a later thread when it exits.
    per_thread: PerThread<Counters>,
    /// For a thread whose own counters are out of reach: a thread-local
    /// destructor that runs after the per-thread registry's. Shared, so
    /// written with read-modify-writes.
    shared: Counters,
}

impl Stats {
    /// Adds one to the counter `which` picks, in this thread's counters.
    #[inline]
    fn count(&self, which: impl Fn(&Counters) -> &AtomicU64) {
        match self.per_thread.mine() {
            // Relaxed: only this thread writes its counters (the thread that
            // held them before exited before we claimed them, an order that
            // `PerThread` provides); readers want a snapshot.
            Some(mine) => {
                let counter = which(mine);
                counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            None => count_shared(which(&self.shared)),
        }
    }

    #[inline]
    pub(crate) fn lookup(&self, hit: bool) {
        self.count(|c| if hit { &c.hits } else { &c.misses });
    }

    pub(crate) fn insert(&self) {
        self.count(|c| &c.inserts);
    }

    pub(crate) fn removal(&self, cause: RemovalCause) {
        match cause {
            RemovalCause::Evicted => self.count(|c| &c.evictions),
            RemovalCause::Expired => self.count(|c| &c.expirations),
            RemovalCause::Removed | RemovalCause::Cleared => self.count(|c| &c.removals),
            RemovalCause::Replaced => {}
        }
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let mut total = CacheStats::default();
        let mut add = |c: &Counters| {
            // Relaxed: a snapshot; quiescence (a join) makes it exact.
            let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
            total.hits += read(&c.hits);
            total.misses += read(&c.misses);
            total.inserts += read(&c.inserts);
            total.evictions += read(&c.evictions);
            total.expirations += read(&c.expirations);
            total.removals += read(&c.removals);
        };
        self.per_thread.for_each(&mut add);
        add(&self.shared);
        total
    }
}
