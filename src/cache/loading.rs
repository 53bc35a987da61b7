//! Loading under single flight: `get_or_insert_with` and its fallible form.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use super::Cache;
use crate::raw::reclaim::Reclaimer;
use crate::refs::Ref;

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
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
    ///   never finish). Two initializers that each need the other's key (A's
    ///   loads B while B's loads A) deadlock, as in any single-flight cache;
    ///   only the direct re-entry is detected.
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
        self.core.get_or_load(key, init).map(Ref::new)
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), with the key
    /// borrowed: it is turned into an owned `K` (`to_owned`) only if it must
    /// be inserted, so a hit on a `String` key allocates nothing.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<String, usize> = Cache::new(100);
    /// let name = "epoch"; // a `&str`: no `String` is made unless inserted
    /// assert_eq!(*cache.get_or_insert_with_ref(name, || name.len()), 5);
    /// assert_eq!(*cache.get_or_insert_with_ref(name, || unreachable!("present")), 5);
    /// ```
    #[inline]
    pub fn get_or_insert_with_ref<Q>(&self, key: &Q, init: impl FnOnce() -> V) -> Ref<'_, K, V, R>
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let hash = self.core.hash(key);
        if let Some(found) = self.core.table.get_guarded(hash, key, true) {
            return Ref::new(found);
        }
        let loaded = self.core.load(key.to_owned(), hash, || {
            Ok::<V, std::convert::Infallible>(init())
        });
        match loaded {
            Ok(found) => Ref::new(found),
            Err(never) => match never {},
        }
    }
}
