//! Guarded references: `Ref`, one value kept alive by its own pin, and
//! `Pinned`, one pin shared by many operations.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::ptr::NonNull;

use crate::cache::{Cache, DefaultHashBuilder};
use crate::raw::departures::Departures;
use crate::raw::entry::Entry;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};

/// A guarded reference to a cached value, returned by [`Cache::get`].
///
/// While it lives, the entry's memory cannot be reclaimed, even if another
/// thread evicts, replaces or removes the entry: the reference stays valid and
/// the value intact. Drop it promptly: while it lives, nothing retired
/// anywhere in the cache can be freed (see [`Cache`], "What runs pinned"). For
/// a long-lived handle, store `Arc<V>` and take
/// [`get_cloned`](Cache::get_cloned). A `Ref` that is leaked (`mem::forget`) keeps its thread pinned for good: nothing retired
/// afterwards is ever freed, not even when the cache is dropped (safe, but a
/// leak).
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
    /// What the insert behind this `Ref` unlinked (`get_or_insert_with`):
    /// shown to the listener and retired after `_guard` is dropped (fields
    /// drop in declaration order), so that the listener runs unpinned.
    _departures: Option<Box<Departures<'a, K, V, R>>>,
}

impl<'a, K, V, R: Reclaimer> Ref<'a, K, V, R> {
    /// # Safety
    ///
    /// `entry` was loaded through `guard` (or through a guard of this thread
    /// that was alive when `guard` was pinned, and still is).
    pub(crate) unsafe fn new(entry: NonNull<Entry<K, V>>, guard: R::Guard<'a>) -> Self {
        Ref {
            entry,
            _guard: guard,
            _departures: None,
        }
    }

    /// A `Ref` that also carries what its insert unlinked, to dispose of
    /// once its guard is gone.
    ///
    /// # Safety
    ///
    /// As [`Ref::new`].
    pub(crate) unsafe fn with_departures(
        entry: NonNull<Entry<K, V>>,
        guard: R::Guard<'a>,
        departures: Departures<'a, K, V, R>,
    ) -> Self {
        Ref {
            entry,
            _guard: guard,
            _departures: departures.boxed(),
        }
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

impl<'a, K, V, S, R: Reclaimer> Pinned<'a, K, V, S, R> {
    pub(crate) fn new(cache: &'a Cache<K, V, S, R>, guard: R::Guard<'a>) -> Self {
        Pinned { cache, guard }
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
        let hash = self.cache.hash(key);
        self.cache
            .lookup(&self.guard, hash, key)
            .map(|entry| &entry.value)
    }

    /// Inserts through this pin, like [`Cache::insert`]. The eviction
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
        let mut departures = Departures::new(&self.cache.table);
        self.cache
            .insert_entry(&self.guard, &mut departures, key, value, None);
    }

    /// Removes through this pin, like [`Cache::remove`] (the listener runs
    /// under this pin, as for [`insert`](Self::insert)).
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
        let mut departures = Departures::new(&self.cache.table);
        self.cache
            .table
            .remove(&self.guard, &mut departures, hash, key)
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Pinned<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinned").field("cache", self.cache).finish()
    }
}
