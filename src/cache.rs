//! `Cache`, its builder, and the guarded references it hands out: the safe API
//! over `raw::table`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::raw::entry::Entry;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};
use crate::raw::table::{self, Table};
use crate::BuildError;

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
/// reclaims retired entries ([`Seize`](crate::Seize), the default, or
/// [`Crossbeam`](crate::Crossbeam)). See the [crate docs](crate) for the
/// design and the guarantees.
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
pub struct Cache<K, V, S = DefaultHashBuilder, R: Reclaimer = DefaultReclaimer> {
    table: Table<K, V, R>,
    hasher: S,
}

impl<K, V> Cache<K, V> {
    /// A cache holding at most `capacity` entries, with the default hasher and
    /// reclaimer.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero or its table cannot be allocated. Use
    /// [`Cache::builder`] to get a [`BuildError`] instead.
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
        Builder {
            capacity: None,
            hasher: DefaultHashBuilder::default(),
            _marker: PhantomData,
        }
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
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Inserts `value` for `key`, replacing the value of an existing key.
    ///
    /// If the cache is full, an entry of the key's two candidate sets is
    /// evicted first, so [`len`](Self::len) never exceeds the capacity. The
    /// replaced or evicted value is dropped once no reader can still see it.
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
        let hash = self.hash(&key);
        let entry = Entry::new(key, value);
        let guard = self.table.reclaimer.pin();
        self.table.insert(&guard, hash, entry);
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
        let entry = NonNull::from(self.table.get(&guard, hash, key)?);
        Some(Ref {
            entry,
            _guard: guard,
        })
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
        self.table
            .get(&guard, hash, key)
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
        Pinned {
            cache: self,
            guard: self.table.reclaimer.pin(),
        }
    }

    /// Removes `key`; true if this call removed it.
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
        let guard = self.table.reclaimer.pin();
        self.table.remove(&guard, hash, key)
    }

    /// True if `key` is present. Counts as an access for the eviction policy.
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
        self.table.get(&guard, hash, key).is_some()
    }

    /// Checks the table's invariants (tests and fuzzing only); call while no
    /// other thread uses the cache.
    #[cfg(any(test, fuzzing))]
    #[doc(hidden)]
    pub fn validate(&self) {
        self.table.validate(|key| self.hash(key));
    }

    /// Removes every entry. Inserts that race with `clear` may survive it.
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
        let guard = self.table.reclaimer.pin();
        self.table.clear(&guard);
    }
}

impl<K, V, S, R: Reclaimer> Cache<K, V, S, R> {
    /// The number of entries, counting inserts in flight. Never more than
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
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Cache<K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("reclaimer", &self.table.reclaimer)
            .finish_non_exhaustive()
    }
}

/// Configures and builds a [`Cache`].
///
/// ```
/// use epoch_cache::{Cache, Crossbeam};
/// use std::collections::hash_map::RandomState;
///
/// let cache: Cache<u64, u64, RandomState, Crossbeam> = Cache::builder()
///     .capacity(1_000)
///     .hasher(RandomState::new())
///     .reclaimer::<Crossbeam>()
///     .build()?;
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
pub struct Builder<K, V, S = DefaultHashBuilder, R = DefaultReclaimer> {
    capacity: Option<usize>,
    hasher: S,
    _marker: BuilderMarker<K, V, R>,
}

/// Ties the builder to its key, value and reclaimer types without owning any.
type BuilderMarker<K, V, R> = PhantomData<fn() -> (K, V, R)>;

impl<K, V, S, R: Reclaimer> Builder<K, V, S, R> {
    /// The most entries the cache may hold (required, at least 1).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(5).build()?;
    /// assert_eq!(cache.capacity(), 5);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// The hasher for keys.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::collections::hash_map::RandomState;
    ///
    /// let cache: Cache<u64, u64, RandomState> =
    ///     Cache::builder().capacity(5).hasher(RandomState::new()).build()?;
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> Builder<K, V, S2, R> {
        Builder {
            capacity: self.capacity,
            hasher,
            _marker: PhantomData,
        }
    }

    /// The reclamation backend: [`Seize`](crate::Seize) (the default) or
    /// [`Crossbeam`](crate::Crossbeam).
    ///
    /// ```
    /// use epoch_cache::{Cache, Crossbeam, DefaultHashBuilder};
    ///
    /// let cache: Cache<u64, u64, DefaultHashBuilder, Crossbeam> =
    ///     Cache::builder().capacity(5).reclaimer::<Crossbeam>().build()?;
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn reclaimer<R2: Reclaimer>(self) -> Builder<K, V, S, R2> {
        Builder {
            capacity: self.capacity,
            hasher: self.hasher,
            _marker: PhantomData,
        }
    }

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
        let sets = table::sets_for(capacity).ok_or(BuildError::CapacityTooLarge { capacity })?;
        let table =
            Table::new(capacity, sets).ok_or(BuildError::OutOfMemory { bytes: sets * 64 })?;
        Ok(Cache {
            table,
            hasher: self.hasher,
        })
    }
}

impl<K, V, S, R> fmt::Debug for Builder<K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// A guarded reference to a cached value, returned by [`Cache::get`].
///
/// While it lives, the entry's memory cannot be reclaimed, even if another
/// thread evicts, replaces or removes the entry: the reference stays valid and
/// the value intact. Drop it promptly; it holds back reclamation.
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, String> = Cache::new(10);
/// cache.insert(1, "one".into());
/// let r = cache.get(&1).unwrap();
/// cache.remove(&1); // unlinked, but `r` still reads it
/// assert_eq!((*r.key(), r.value().as_str()), (1, "one"));
/// ```
pub struct Ref<'a, K, V, R: Reclaimer = DefaultReclaimer> {
    // Invariant: points to an entry that was loaded through `_guard`, so it
    // stays allocated while `_guard` lives.
    entry: NonNull<Entry<K, V>>,
    _guard: R::Guard<'a>,
}

impl<K, V, R: Reclaimer> Ref<'_, K, V, R> {
    /// The entry's key.
    ///
    /// ```
    /// # use epoch_cache::Cache;
    /// # let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(3, 4);
    /// assert_eq!(*cache.get(&3).unwrap().key(), 3);
    /// ```
    pub fn key(&self) -> &K {
        // SAFETY: the entry is alive while the guard is (type invariant), and
        // the returned borrow cannot outlive `self`, which holds the guard.
        unsafe { &self.entry.as_ref().key }
    }

    /// The entry's value.
    ///
    /// ```
    /// # use epoch_cache::Cache;
    /// # let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(3, 4);
    /// assert_eq!(*cache.get(&3).unwrap().value(), 4);
    /// ```
    pub fn value(&self) -> &V {
        // SAFETY: as in `key`.
        unsafe { &self.entry.as_ref().value }
    }
}

impl<K, V, R: Reclaimer> Deref for Ref<'_, K, V, R> {
    type Target = V;

    fn deref(&self) -> &V {
        self.value()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, R: Reclaimer> fmt::Debug for Ref<'_, K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ref")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}

/// One pin for many operations, returned by [`Cache::pin`].
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, u64> = Cache::new(10);
/// let pinned = cache.pin();
/// pinned.insert(1, 2);
/// let v: Option<&u64> = pinned.get(&1);
/// assert_eq!(v, Some(&2));
/// ```
pub struct Pinned<'a, K, V, S = DefaultHashBuilder, R: Reclaimer = DefaultReclaimer> {
    cache: &'a Cache<K, V, S, R>,
    guard: R::Guard<'a>,
}

impl<K, V, S, R> Pinned<'_, K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Looks `key` up; the value is borrowed for as long as this pin lives.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(1, 2);
    /// let pinned = cache.pin();
    /// assert_eq!(pinned.get(&1), Some(&2));
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        self.cache
            .table
            .get(&self.guard, hash, key)
            .map(|entry| &entry.value)
    }

    /// Inserts through this pin, like [`Cache::insert`].
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.pin().insert(1, 2);
    /// assert_eq!(cache.get_cloned(&1), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) {
        let hash = self.cache.hash(&key);
        self.cache
            .table
            .insert(&self.guard, hash, Entry::new(key, value));
    }

    /// Removes through this pin, like [`Cache::remove`].
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(1, 2);
    /// assert!(cache.pin().remove(&1));
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.cache.hash(key);
        self.cache.table.remove(&self.guard, hash, key)
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Pinned<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinned").field("cache", self.cache).finish()
    }
}
