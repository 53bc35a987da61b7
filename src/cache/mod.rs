//! `Cache`: the one public face of the cache, safe, over `cache_core` and
//! `raw/`. Every public method of `Cache` is in this folder: the basic
//! operations and sizes here, loading under single flight in `loading.rs`,
//! whole-cache passes in `bulk.rs` (the rayon ones in `../rayon_impls.rs`).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::OnceLock;
use std::time::Duration;

use crate::builder::{Builder, DefaultHashBuilder};
use crate::cache_core::CacheCore;
use crate::error::BuildError;
use crate::raw::hooks::Hooks;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};
use crate::raw::set::WAYS;
use crate::raw::table::{self, Table};
use crate::refs::{Pinned, Ref};
use crate::stats::{CacheStats, Stats};

mod bulk;
mod loading;
mod loading_async;

/// A bounded concurrent cache whose reads take no lock and touch no reference
/// count.
///
/// `K: Hash + Eq + Send + Sync` and `V: Send + Sync`; `S` hashes keys and `R`
/// reclaims retired entries ([`Crossbeam`](crate::Crossbeam), the default, or
/// [`Seize`](crate::Seize)). See the [crate docs](crate) for the design and
/// the guarantees.
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, String> = Cache::new(10_000);
/// cache.insert(1, "one".to_string());
/// assert_eq!(cache.get(&1).as_deref().map(String::as_str), Some("one"));
/// assert_eq!(cache.remove(&1).as_deref().map(String::as_str), Some("one"));
/// assert!(cache.get(&1).is_none());
/// ```
///
/// # What runs pinned, and what a held reference costs
///
/// The crate holds an epoch pin only for the few loads of one operation.
/// While a thread is pinned, nothing retired anywhere in the cache can be
/// freed (with crossbeam-epoch, one pinned thread stops the epoch for the
/// whole cache), so the crate never runs user code under a pin it took on
/// your behalf: initializers run unpinned, single-flight waiters wait
/// unpinned, and the eviction listener runs after the unlinking thread has
/// unpinned. Only a key's `Hash` and `Eq` run pinned (a lookup cannot do
/// without them), as does the predicate of [`retain`](Self::retain) (it reads
/// the entry in place); keep them short, and never call back into the cache
/// from them.
///
/// A [`Ref`] (also as [`Iter`](crate::Iter) yields it) or a [`Pinned`] is
/// a pin you hold: while it lives, every entry evicted, replaced or removed
/// anywhere in the cache stays allocated, as with any epoch scheme. Hold one
/// for a request or a batch, not for minutes. For a long-lived handle, store `Arc<V>` values and
/// take [`get_cloned`](Self::get_cloned): the `Arc` count is taken while the
/// entry is protected, which is what a locked cache must remember to do under
/// its lock, here safe by construction.
///
/// ```
/// use epoch_cache::Cache;
/// use std::sync::Arc;
///
/// let cache: Cache<u64, Arc<String>> = Cache::new(100);
/// cache.insert(1, Arc::new("kept as long as you like".to_string()));
/// let handle: Arc<String> = cache.get_cloned(&1).unwrap(); // no pin held
/// cache.remove(&1);
/// assert_eq!(handle.as_str(), "kept as long as you like");
/// ```
pub struct Cache<K, V, S = DefaultHashBuilder, R: Reclaimer = DefaultReclaimer> {
    pub(crate) core: CacheCore<K, V, S, R>,
}

impl<K, V> Cache<K, V> {
    /// A cache holding at most `capacity` entries, with the default hasher and
    /// reclaimer.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero or its table cannot be allocated. Use
    /// [`Cache::builder`] to get a [`BuildError`](crate::BuildError) instead.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<&str, u32> = Cache::new(100);
    /// assert_eq!(cache.capacity(), 100);
    /// ```
    pub fn new(capacity: usize) -> Self {
        match Self::builder().capacity(capacity).build() {
            Ok(cache) => cache,
            Err(err) => panic!("Cache::new({capacity}): {err}"),
        }
    }

    /// A builder for a cache with more options.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(1_000).build()?;
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn builder() -> Builder<K, V> {
        Builder::new()
    }
}

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Inserts `value` for `key`, replacing the value of an existing key.
    ///
    /// If the cache is full, an entry of the key's two candidate sets is
    /// evicted first, so [`len`](Self::len) never exceeds the capacity. The
    /// replaced or evicted value is dropped once no reader can still see it.
    /// The entry gets the cache's time to live, if it has one.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, &str> = Cache::new(10);
    /// cache.insert(7, "a");
    /// cache.insert(7, "b");
    /// assert_eq!(cache.get_cloned(&7), Some("b"));
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn insert(&self, key: K, value: V) {
        self.core.insert(key, value, None);
    }

    /// Inserts with a time to live of its own, overriding the cache's.
    ///
    /// After `ttl`, [`get`](Self::get) no longer returns the entry; it is
    /// unlinked when its set is next written, or by
    /// [`purge_expired`](Self::purge_expired). An absurdly long `ttl` never
    /// expires. Durations round up to whole milliseconds.
    ///
    /// A zero `ttl` means "expires at once" (the rule of
    /// [`Builder::time_to_live`] too, which refuses it as a whole cache's
    /// default): nothing is stored and nothing is evicted; the key's old
    /// entry, if any, leaves as [`Replaced`](crate::RemovalCause::Replaced),
    /// and the new value goes straight to the listener as
    /// [`Expired`](crate::RemovalCause::Expired).
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert_with_ttl(1, 1, Duration::from_millis(20));
    /// assert!(cache.contains_key(&1));
    /// std::thread::sleep(Duration::from_millis(30));
    /// assert!(!cache.contains_key(&1));
    /// cache.insert(2, 2);
    /// cache.insert_with_ttl(2, 3, Duration::ZERO); // expires at once
    /// assert!(!cache.contains_key(&2));
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        self.core.insert(key, value, Some(ttl));
    }

    /// Looks `key` up, returning a guarded reference to its value.
    ///
    /// The lookup takes no lock and writes nothing shared once the entry's
    /// policy bits are set. The value stays readable while the [`Ref`] lives,
    /// even if the entry is evicted, replaced or removed meanwhile.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<String, u32> = Cache::new(10);
    /// cache.insert("a".to_string(), 1);
    /// let r = cache.get("a").unwrap(); // look up a `String` key by `&str`
    /// assert_eq!((r.key().as_str(), *r), ("a", 1));
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.core.hash(key);
        self.core.table.get_guarded(hash, key, true).map(Ref::new)
    }

    /// Looks `key` up and clones its value.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, Vec<u8>> = Cache::new(10);
    /// cache.insert(1, vec![1, 2]);
    /// assert_eq!(cache.get_cloned(&1), Some(vec![1, 2]));
    /// ```
    #[inline]
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let guard = self.core.table.reclaimer.pin();
        self.core
            .lookup(&guard, key)
            .map(|entry| entry.value.clone())
    }

    /// Pins once for many operations: lookups through the returned handle
    /// borrow values for as long as the handle lives.
    ///
    /// Holding a pin delays the reclamation of entries retired meanwhile, so
    /// keep it for a batch, not for ever.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// cache.insert(1, 10);
    /// cache.insert(2, 20);
    /// let pinned = cache.pin();
    /// let sum: u64 = [1, 2, 3].iter().filter_map(|k| pinned.get(k)).sum();
    /// assert_eq!(sum, 30);
    /// ```
    pub fn pin(&self) -> Pinned<'_, K, V, S, R> {
        Pinned::new(&self.core)
    }

    /// Removes `key`, returning the entry this call removed, like
    /// `HashMap::remove`: it stays readable while the [`Ref`] lives (an
    /// expired entry is unlinked too, but counts as absent: `None`). The
    /// listener, if any, sees it ([`Removed`](crate::RemovalCause::Removed))
    /// when the `Ref` is dropped, since a `Ref` holds a pin and the listener
    /// never runs pinned; drop the result at once (`cache.remove(&k);`) to
    /// have it called before the next statement.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, String> = Cache::new(10);
    /// cache.insert(1, "one".to_string());
    /// let removed = cache.remove(&1).unwrap();
    /// assert_eq!((*removed.key(), removed.as_str()), (1, "one"));
    /// assert!(cache.remove(&1).is_none());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.core.hash(key);
        self.core.table.remove_guarded(hash, key).map(Ref::new)
    }

    /// Looks `key` up without counting it as an access: neither the
    /// eviction policy nor the statistics see it, so a peeked entry is not
    /// protected from eviction as one returned by [`get`](Self::get) is, and
    /// a peek does not push back its time-to-idle deadline. An expired entry
    /// is not returned.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(10).record_stats(true).build()?;
    /// cache.insert(1, 10);
    /// assert_eq!(cache.peek(&1).as_deref(), Some(&10));
    /// assert!(cache.peek(&2).is_none());
    /// assert_eq!((cache.stats().hits, cache.stats().misses), (0, 0));
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    #[inline]
    pub fn peek<Q>(&self, key: &Q) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.core.hash(key);
        self.core.table.peek_guarded(hash, key).map(Ref::new)
    }

    /// True if `key` is present (and unexpired). Like [`peek`](Self::peek),
    /// and unlike [`get`](Self::get), it is not an access: neither the
    /// eviction policy nor the statistics count it (as moka's
    /// `contains_key`).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(1, 1);
    /// assert!(cache.contains_key(&1));
    /// assert!(!cache.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.peek(key).is_some()
    }

    /// Removes every entry (the listener sees
    /// [`Cleared`](crate::RemovalCause::Cleared)). Inserts that race with
    /// `clear` may survive it.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// (0..5).for_each(|k| cache.insert(k, k));
    /// cache.clear();
    /// assert!(cache.is_empty());
    /// ```
    pub fn clear(&self) {
        let table = &self.core.table;
        self.core
            .for_each_set(|guard, out, set| table.clear_set(guard, out, set));
    }

    /// Checks the table's invariants (tests and fuzzing only); call while no
    /// other thread uses the cache.
    #[cfg(any(test, fuzzing))]
    #[doc(hidden)]
    pub fn validate(&self) {
        self.core.table.validate(|key| self.core.hash(key));
    }
}

impl<K, V, S, R: Reclaimer> Cache<K, V, S, R> {
    /// The number of entries, counting inserts in flight and entries that have
    /// expired but are not yet unlinked. Never more than
    /// [`capacity`](Self::capacity), at any instant.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(2);
    /// (0..10).for_each(|k| cache.insert(k, k));
    /// assert_eq!(cache.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.core.table.len()
    }

    /// True if the cache holds no entry.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(2);
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the cache holds: the capacity it was built with.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(1_000);
    /// assert_eq!(cache.capacity(), 1_000);
    /// ```
    pub fn capacity(&self) -> usize {
        self.core.table.capacity()
    }

    /// The number of slots in the table: about 1.25 times the capacity,
    /// rounded up to whole sets. The slack lets a working set that fits in the
    /// capacity stay resident even when its keys spread unevenly over sets.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(1_000);
    /// assert!(cache.slots() >= 1_250);
    /// ```
    pub fn slots(&self) -> usize {
        self.core.table.slots()
    }

    /// A snapshot of the counters; all zero unless the cache was built with
    /// [`record_stats(true)`](Builder::record_stats).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(2).record_stats(true).build()?;
    /// (0..3).for_each(|k| cache.insert(k, k));
    /// assert_eq!((cache.stats().inserts, cache.stats().evictions), (3, 1));
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.core
            .table
            .hooks
            .stats
            .as_ref()
            .map(|stats| stats.snapshot())
            .unwrap_or_default()
    }

    /// The time to live of entries inserted without their own, if any.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> =
    ///     Cache::builder().capacity(2).time_to_live(Duration::from_secs(5)).build()?;
    /// assert_eq!(cache.time_to_live(), Some(Duration::from_secs(5)));
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn time_to_live(&self) -> Option<Duration> {
        self.core.time_to_live
    }

    /// The total weight of the entries, counting inserts in flight (0
    /// without a weigher). Never more than [`max_weight`](Self::max_weight),
    /// at any instant; equal to the weigher's sum over the entries once no
    /// insert is in flight.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, String> = Cache::builder()
    ///     .capacity(100)
    ///     .max_weight(10)
    ///     .weigher(|_: &u64, v: &String| v.len() as u64)
    ///     .build()?;
    /// cache.insert(1, "abc".to_string());
    /// cache.insert(2, "de".to_string());
    /// assert_eq!(cache.weight(), 5);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn weight(&self) -> u64 {
        self.core.table.weight()
    }

    /// The bound on total weight; `None` when the cache has no weigher.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> =
    ///     Cache::builder().capacity(10).max_weight(50).weigher(|_, v: &u64| *v).build()?;
    /// assert_eq!(cache.max_weight(), Some(50));
    /// assert_eq!(Cache::<u64, u64>::new(10).max_weight(), None);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn max_weight(&self) -> Option<u64> {
        self.core.table.max_weight()
    }

    /// How long an entry may go unread before it expires, if the cache has a
    /// time to idle.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> =
    ///     Cache::builder().capacity(2).time_to_idle(Duration::from_secs(5)).build()?;
    /// assert_eq!(cache.time_to_idle(), Some(Duration::from_secs(5)));
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn time_to_idle(&self) -> Option<Duration> {
        self.core.time_to_idle
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Cache<K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("time_to_live", &self.core.time_to_live)
            .field("reclaimer", &self.core.table.reclaimer)
            .finish_non_exhaustive()
    }
}

impl<K, V, S, R: Reclaimer> Builder<K, V, S, R> {
    /// Builds the cache, or says why the configuration is refused.
    ///
    /// ```
    /// use epoch_cache::{BuildError, Cache};
    ///
    /// let too_big = Cache::<u64, u64>::builder().capacity(usize::MAX).build();
    /// assert!(matches!(too_big, Err(BuildError::CapacityTooLarge { .. })));
    /// ```
    pub fn build(self) -> Result<Cache<K, V, S, R>, BuildError> {
        let capacity = self.capacity.ok_or(BuildError::MissingCapacity)?;
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if self.time_to_live == Some(Duration::ZERO) {
            return Err(BuildError::ZeroTimeToLive);
        }
        let limits = self.limits()?;
        let sets = table::sets_for(capacity).ok_or(BuildError::CapacityTooLarge { capacity })?;
        let hooks = Hooks {
            listener: self.listener,
            stats: self.record_stats.then(Stats::default),
        };
        let table = Table::new(capacity, sets, hooks, limits).ok_or(BuildError::OutOfMemory {
            bytes: sets * (64 + 2 * WAYS),
        })?;
        let core = CacheCore {
            table,
            hasher: self.hasher,
            time_to_live: self.time_to_live,
            weigher: self.weigher,
            time_to_idle: self.time_to_idle,
            flights: OnceLock::new(),
            clock: Default::default(),
        };
        // Under loom, make the flights now: building them creates loom locks,
        // which may switch loom threads inside `OnceLock::get_or_init`, where
        // a second thread would block for real.
        #[cfg(epoch_cache_loom)]
        core.flights.get_or_init(Default::default);
        Ok(Cache { core })
    }
}
