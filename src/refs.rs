//! Guarded references: `Ref`, one value kept alive by its own pin, and
//! `Pinned`, one pin shared by many operations.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;

use crate::builder::DefaultHashBuilder;
use crate::cache_core::CacheCore;
use crate::raw::guarded::Guarded;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};

/// A guarded reference to a cached value, returned by
/// [`Cache::get`](crate::Cache::get).
///
/// While it lives, the entry's memory cannot be reclaimed, even if another
/// thread evicts, replaces or removes the entry: the reference stays valid and
/// the value intact. Drop it promptly: while it lives, nothing retired
/// anywhere in the cache can be freed (see [`Cache`](crate::Cache), "What
/// runs pinned"). For a long-lived handle, store `Arc<V>` and take
/// [`get_cloned`](crate::Cache::get_cloned). A `Ref` that is leaked
/// (`mem::forget`) keeps its thread pinned for good: nothing retired
/// afterwards is ever freed, not even when the cache is dropped (safe, but a
/// leak).
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, String> = Cache::new(10);
/// cache.insert(1, "one".into());
/// let r = cache.get(&1).unwrap();
/// drop(cache.remove(&1)); // unlinked, but `r` still reads it
/// assert_eq!((*r.key(), r.value().as_str()), (1, "one"));
/// ```
pub struct Ref<'a, K, V, R: Reclaimer = DefaultReclaimer> {
    inner: Guarded<'a, K, V, R>,
}

impl<'a, K, V, R: Reclaimer> Ref<'a, K, V, R> {
    pub(crate) fn new(inner: Guarded<'a, K, V, R>) -> Self {
        Ref { inner }
    }

    /// The entry's key.
    ///
    /// ```
    /// # use epoch_cache::Cache;
    /// # let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(3, 4);
    /// assert_eq!(*cache.get(&3).unwrap().key(), 3);
    /// ```
    pub fn key(&self) -> &K {
        self.inner.key()
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
        self.inner.value()
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

/// One pin for many operations, returned by [`Cache::pin`](crate::Cache::pin).
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
    core: &'a CacheCore<K, V, S, R>,
    guard: R::Guard<'a>,
}

impl<'a, K, V, S, R: Reclaimer> Pinned<'a, K, V, S, R> {
    pub(crate) fn new(core: &'a CacheCore<K, V, S, R>) -> Self {
        Pinned {
            core,
            guard: core.table.reclaimer.pin(),
        }
    }
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
        self.core.lookup(&self.guard, key).map(|entry| &entry.value)
    }

    /// Inserts through this pin, like [`Cache::insert`](crate::Cache::insert). The eviction
    /// listener, if any, runs before this returns, under this pin (it is
    /// yours: it lives as long as this handle).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.pin().insert(1, 2);
    /// assert_eq!(cache.get_cloned(&1), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) {
        let mut departures = self.core.table.departures();
        self.core
            .insert_with(&self.guard, &mut departures, key, value, None);
    }

    /// Removes through this pin, like [`Cache::remove`](crate::Cache::remove),
    /// returning the removed value, borrowed for as long as this pin lives
    /// (the listener runs under this pin, before this returns, as for
    /// [`insert`](Self::insert)).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert(1, 2);
    /// let pinned = cache.pin();
    /// assert_eq!(pinned.remove(&1), Some(&2));
    /// assert_eq!(pinned.remove(&1), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut departures = self.core.table.departures();
        self.core
            .remove_with(&self.guard, &mut departures, key)
            .map(|entry| &entry.value)
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Pinned<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinned")
            .field("len", &self.core.table.len())
            .field("capacity", &self.core.table.capacity())
            .finish_non_exhaustive()
    }
}
