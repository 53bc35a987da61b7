//! `Cache`: the safe API over `raw::table`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::time::Duration;

use crate::builder::Builder;
use crate::clock;
use crate::flight::{Flights, Handoff, Joined};
use crate::raw::departures::Departures;
use crate::raw::entry::{self, Entry, Unpublished};
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};
use crate::raw::set;
use crate::raw::table::Table;
use crate::refs::{Pinned, Ref};
use crate::CacheStats;

/// The default hasher: foldhash's fast variant, randomly seeded per cache.
///
/// foldhash is the quickest good-quality hasher for short keys (it is what
/// hashbrown uses by default), and its per-instance random seed keeps an
/// attacker from choosing keys that pile into the same sets. A lookup reads
/// at most two sets whatever the keys, so a bad hash costs hit ratio, never
/// unbounded time.
pub type DefaultHashBuilder = foldhash::fast::RandomState;

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
/// assert!(cache.remove(&1));
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
/// A [`Ref`], [`Pinned`] or [`Iter`](crate::Iter) is a pin you hold: while
/// it lives, every entry evicted, replaced or removed anywhere in the cache
/// stays allocated, as with any epoch scheme. Hold one for a request or a
/// batch, not for minutes. For a long-lived handle, store `Arc<V>` values and
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
    pub(crate) table: Table<K, V, R>,
    pub(crate) hasher: S,
    /// The time to live of entries inserted without one of their own.
    pub(crate) time_to_live: Option<Duration>,
    /// Loads in flight for `get_or_insert_with`, made on first use.
    pub(crate) flights: OnceLock<Flights<K>>,
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
    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The deadline of an entry inserted now with `ttl`, or the cache's own.
    fn deadline(&self, ttl: Option<Duration>) -> u64 {
        match ttl.or(self.time_to_live) {
            Some(ttl) => clock::deadline_after(ttl),
            None => clock::NEVER,
        }
    }

    /// Looks `key` up through `guard` and counts the lookup: the one lookup
    /// behind `get`, `get_cloned`, `contains_key`, `Pinned::get` and the fast
    /// path of `get_or_insert_with`.
    #[inline]
    pub(crate) fn lookup<'g, Q>(
        &self,
        guard: &'g R::Guard<'_>,
        hash: u64,
        key: &Q,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let found = self.table.get(guard, hash, key);
        if let Some(stats) = &self.table.hooks.stats {
            stats.lookup(found.is_some());
        }
        found
    }

    /// Links a new entry through `guard`; returns the entry (possibly already
    /// evicted or superseded, but readable while `guard` lives). What the
    /// insert unlinks goes to `out`.
    pub(crate) fn insert_entry<'c>(
        &'c self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'c, K, V, R>,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> NonNull<entry::Entry<K, V>> {
        let hash = self.hash(&key);
        let new = Unpublished(entry::alloc(key, value, self.deadline(ttl)));
        let ptr = self.table.insert(guard, out, hash, new);
        if let Some(stats) = &self.table.hooks.stats {
            stats.insert();
        }
        NonNull::new(set::unpack(ptr)).expect("entries are never null")
    }

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
        // Declared before the guard, so dropped after it: the listener runs
        // unpinned.
        let mut departures = Departures::new(&self.table);
        let guard = self.table.reclaimer.pin();
        self.insert_entry(&guard, &mut departures, key, value, None);
    }

    /// Inserts with a time to live of its own, overriding the cache's.
    ///
    /// After `ttl`, [`get`](Self::get) no longer returns the entry; it is
    /// unlinked when its set is next written, or by
    /// [`purge_expired`](Self::purge_expired). A zero `ttl` inserts an entry
    /// that is already expired (it replaces the key's old value, and is never
    /// returned); an absurdly long one never expires. Durations round up to
    /// whole milliseconds.
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
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        let mut departures = Departures::new(&self.table);
        let guard = self.table.reclaimer.pin();
        self.insert_entry(&guard, &mut departures, key, value, Some(ttl));
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
        let hash = self.hash(key);
        let guard = self.table.reclaimer.pin();
        let entry = NonNull::from(self.lookup(&guard, hash, key)?);
        // SAFETY: `entry` was loaded through `guard`, which the Ref keeps.
        Some(unsafe { Ref::new(entry, guard) })
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
        let hash = self.hash(key);
        let guard = self.table.reclaimer.pin();
        self.lookup(&guard, hash, key)
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
        Pinned::new(self, self.table.reclaimer.pin())
    }

    /// Removes `key`; true if this call removed it (an expired entry is
    /// unlinked too, but counts as absent).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(1, 1);
    /// assert!(cache.remove(&1));
    /// assert!(!cache.remove(&1));
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut departures = Departures::new(&self.table);
        let guard = self.table.reclaimer.pin();
        self.table.remove(&guard, &mut departures, hash, key)
    }

    /// True if `key` is present. Counts as an access for the eviction policy
    /// and for the statistics.
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
        let hash = self.hash(key);
        let guard = self.table.reclaimer.pin();
        self.lookup(&guard, hash, key).is_some()
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
        for set in 0..self.table.set_count() {
            let mut departures = Departures::new(&self.table);
            let guard = self.table.reclaimer.pin();
            self.table.clear_set(&guard, &mut departures, set);
        }
    }

    /// Returns `key`'s value, inserting `init()` if it is absent; of many
    /// threads asking at once for the same absent key, one runs its `init`
    /// and the others wait for it, then read what it inserted.
    ///
    /// - `init` runs with no lock and no epoch pin held, so a slow one (a
    ///   remote fetch, a compile) holds back no one's memory; waiters wait
    ///   unpinned too, and look the key up again when the load ends.
    /// - A panic in `init` reaches only its own caller and leaves no entry;
    ///   one waiting caller then runs its own `init`.
    /// - Flights are told apart by key equality: keys whose hashes collide
    ///   never wait for each other. `init` may use the cache for other keys;
    ///   asking for the same key from inside its own `init` panics (it could
    ///   never finish).
    /// - A waiter may run its own `init` after all if the leader's entry was
    ///   evicted before the waiter could read it (a cache far too small for
    ///   its load), or if the leader failed.
    /// - The [`Ref`] returned keeps a pin, so the eviction listener calls for
    ///   what the insert evicted are made when the `Ref` is dropped.
    /// - On a present key it costs what [`get`](Self::get) costs.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, String> = Cache::new(100);
    /// let v = cache.get_or_insert_with(7, || "seven".to_string());
    /// assert_eq!(v.as_str(), "seven");
    /// drop(v);
    /// let again = cache.get_or_insert_with(7, || unreachable!("present"));
    /// assert_eq!(again.as_str(), "seven");
    /// ```
    #[inline]
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> Ref<'_, K, V, R> {
        match self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(init())) {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), for an
    /// initializer that can fail: an `Err` goes to its own caller and inserts
    /// nothing, and the callers waiting on it retry with their own `init`.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// let failed = cache.try_get_or_insert_with(1, || Err("backend down"));
    /// assert_eq!(failed.unwrap_err(), "backend down");
    /// assert!(!cache.contains_key(&1));
    /// let v = cache.try_get_or_insert_with(1, || Ok::<_, &str>(10))?;
    /// assert_eq!(*v, 10);
    /// # Ok::<(), &str>(())
    /// ```
    #[inline]
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Ref<'_, K, V, R>, E> {
        let hash = self.hash(&key);
        if let Some(found) = self.get_hashed(hash, &key, true) {
            return Ok(found);
        }
        self.load(key, hash, init)
    }

    /// Looks `key` up under a pin of its own, counting the lookup if `count`.
    #[inline]
    fn get_hashed<Q>(&self, hash: u64, key: &Q, count: bool) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let guard = self.table.reclaimer.pin();
        let entry = if count {
            self.lookup(&guard, hash, key)
        } else {
            self.table.get(&guard, hash, key)
        };
        let entry = NonNull::from(entry?);
        // SAFETY: `entry` was loaded through `guard`, which the Ref keeps.
        Some(unsafe { Ref::new(entry, guard) })
    }

    /// The miss path of `try_get_or_insert_with`: wait for the key's flight,
    /// or lead one. Entered and left unpinned.
    #[cold]
    #[inline(never)]
    fn load<E>(
        &self,
        mut key: K,
        hash: u64,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Ref<'_, K, V, R>, E> {
        let flights = self.flights.get_or_init(Flights::default);
        let leading = loop {
            match flights.join(hash, key, |key| self.get_hashed(hash, key, false)) {
                Joined::Present(found) => return Ok(found),
                Joined::Waited(returned, _handoff) => {
                    #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
                    if let Some(entry) = NonNull::new(std::ptr::with_exposed_provenance_mut::<
                        Entry<K, V>,
                    >(_handoff.entry))
                    {
                        let guard = self.table.reclaimer.pin();
                        // SAFETY: none: this mutant reads the leader's entry,
                        // which may have been retired before `guard` pinned.
                        return Ok(unsafe { Ref::new(entry, guard) });
                    }
                    key = returned;
                }
                Joined::Lead(leading) => break leading,
            }
        };
        let value = init()?; // an Err or a panic drops `leading`: the flight ends
        let key = leading.take_key();
        let mut departures = Departures::new(&self.table);
        let guard = self.table.reclaimer.pin();
        let entry = self.insert_entry(&guard, &mut departures, key, value, None);
        #[cfg(test)]
        crate::flight::tests::AFTER_INSERT.with(|hook| hook.take().map(|hook| hook()));
        leading.finish(Handoff {
            #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
            entry: entry.as_ptr().expose_provenance(),
        });
        // SAFETY: `insert_entry` returned an entry readable through `guard`.
        Ok(unsafe { Ref::with_departures(entry, guard, departures) })
    }

    /// Checks the table's invariants (tests and fuzzing only); call while no
    /// other thread uses the cache.
    #[cfg(any(test, fuzzing))]
    #[doc(hidden)]
    pub fn validate(&self) {
        self.table.validate(|key| self.hash(key));
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
        self.table.len()
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
        self.table.capacity()
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
        self.table.slots()
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
        self.table
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
        self.time_to_live
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Cache<K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("time_to_live", &self.time_to_live)
            .field("reclaimer", &self.table.reclaimer)
            .finish_non_exhaustive()
    }
}
