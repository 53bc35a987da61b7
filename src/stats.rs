//! Per-thread statistics: a hit writes only its own thread's counter.

use crate::sync::unmodeled::{AtomicU64, Ordering};

use thread_local::ThreadLocal;

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

/// Bumps a counter that only the current thread writes: a plain load and
/// store, no read-modify-write.
#[inline]
fn bump(counter: &AtomicU64) {
    // Relaxed: only this thread writes the counter; readers want a snapshot.
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Counters kept per thread and summed on demand.
#[derive(Default)]
pub(crate) struct Stats {
    per_thread: ThreadLocal<Counters>,
}

impl Stats {
    #[inline]
    fn mine(&self) -> &Counters {
        self.per_thread.get_or_default()
    }

    #[inline]
    pub(crate) fn lookup(&self, hit: bool) {
        let mine = self.mine();
        bump(if hit { &mine.hits } else { &mine.misses });
    }

    pub(crate) fn insert(&self) {
        bump(&self.mine().inserts);
    }

    pub(crate) fn removal(&self, cause: RemovalCause) {
        let mine = self.mine();
        match cause {
            RemovalCause::Evicted => bump(&mine.evictions),
            RemovalCause::Expired => bump(&mine.expirations),
            RemovalCause::Removed | RemovalCause::Cleared => bump(&mine.removals),
            RemovalCause::Replaced => {}
        }
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for c in self.per_thread.iter() {
            // Relaxed: a snapshot; quiescence (a join) makes it exact.
            let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
            total.hits += read(&c.hits);
            total.misses += read(&c.misses);
            total.inserts += read(&c.inserts);
            total.evictions += read(&c.evictions);
            total.expirations += read(&c.expirations);
            total.removals += read(&c.removals);
        }
        total
    }
}
