//! Whole-cache operations: iteration, `retain`, `purge_expired`, and their
//! parallel forms under the `rayon` feature.
//!
//! All of them walk the table set by set and are safe alongside concurrent
//! writers. Entries never move between slots, so an entry present for the
//! whole walk is seen exactly once; one inserted or removed during it may or
//! may not be (weak consistency, as for iterators of concurrent maps).

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ptr::NonNull;

use crate::cache::Cache;
use crate::raw::departures::Departures;
use crate::raw::entry;
use crate::raw::reclaim::Reclaimer;
use crate::raw::set::WAYS;
use crate::refs::Ref;

/// An iterator over the entries of a cache, from [`Cache::iter`].
///
/// ```
/// use epoch_cache::Cache;
///
/// let cache: Cache<u64, u64> = Cache::new(100);
/// (0..10).for_each(|k| cache.insert(k, k * k));
/// let mut squares: Vec<u64> = cache.iter().map(|r| *r).collect();
/// squares.sort();
/// assert_eq!(squares[..4], [0, 1, 4, 9]);
/// ```
pub struct Iter<'a, K, V, S, R: Reclaimer> {
    cache: &'a Cache<K, V, S, R>,
    /// The next set to visit.
    set: usize,
    /// Entries of the current set not yet returned, each readable while
    /// `current` lives: entry pointers as loaded, with their `TIMED` bit, so
    /// that expiry is checked when an entry is handed out, not when its set
    /// was read.
    pending: Vec<*mut entry::Entry<K, V>>,
    current: Option<R::Guard<'a>>,
}

impl<'a, K, V, S, R> Iterator for Iter<'a, K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    type Item = Ref<'a, K, V, R>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(word) = self.pending.pop() {
                // SAFETY: `word` was loaded through `current`, still alive.
                if unsafe { entry::expired(word) } {
                    continue;
                }
                // Pinning again while `current` is alive keeps this thread
                // pinned throughout, so the entry stays protected by the new
                // guard after `current` goes.
                let guard = self.cache.table.reclaimer.pin();
                let entry = NonNull::new(entry::address(word)).expect("entries are never null");
                // SAFETY: `entry` was loaded through `current`, still alive.
                return Some(unsafe { Ref::new(entry, guard) });
            }
            self.current = None;
            if self.set == self.cache.table.set_count() {
                return None;
            }
            let guard = self.cache.table.reclaimer.pin();
            let pending = &mut self.pending;
            self.cache
                .table
                .visit_set_words(&guard, self.set, |word| pending.push(word));
            self.current = Some(guard);
            self.set += 1;
        }
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Iter<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Iterates over the entries, each as a guarded [`Ref`]. Weakly
    /// consistent: safe alongside writers; an entry present throughout is
    /// seen exactly once; expired entries are skipped.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<&str, u32> = Cache::new(10);
    /// cache.insert("a", 1);
    /// cache.insert("b", 2);
    /// let total: u32 = cache.iter().map(|r| *r.value()).sum();
    /// assert_eq!(total, 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S, R> {
        Iter {
            cache: self,
            set: 0,
            pending: Vec::with_capacity(WAYS),
            current: None,
        }
    }

    /// Removes every entry for which `keep` returns false (the listener sees
    /// [`Removed`](crate::RemovalCause::Removed)), and every expired entry.
    /// Weakly consistent, like [`iter`](Self::iter). `keep` reads each entry
    /// in place, so it runs pinned (for one set of seven slots at a time):
    /// keep it short. The listener runs unpinned, after each set.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// (0..10).for_each(|k| cache.insert(k, k));
    /// cache.retain(|_, v| v % 2 == 0);
    /// assert_eq!(cache.len(), 5);
    /// assert!(!cache.contains_key(&3));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        for set in 0..self.table.set_count() {
            // Declared before the guard, so dropped after it: the listener
            // runs unpinned.
            let mut departures = Departures::new(&self.table);
            let guard = self.table.reclaimer.pin();
            self.table
                .retain_set(&guard, &mut departures, set, &mut keep);
        }
    }

    /// Unlinks every entry that has expired by now (the listener sees
    /// [`Expired`](crate::RemovalCause::Expired)). Expired entries are also
    /// unlinked, without this call, when an insert next writes their sets.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(10);
    /// cache.insert_with_ttl(1, 1, Duration::from_millis(1));
    /// std::thread::sleep(Duration::from_millis(5));
    /// assert_eq!(cache.len(), 1); // expired, not yet unlinked
    /// cache.purge_expired();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn purge_expired(&self) {
        for set in 0..self.table.set_count() {
            let mut departures = Departures::new(&self.table);
            let guard = self.table.reclaimer.pin();
            self.table.purge_set(&guard, &mut departures, set);
        }
    }
}

#[cfg(feature = "rayon")]
mod parallel {
    use rayon::prelude::*;

    use super::*;

    impl<K, V, S, R> Cache<K, V, S, R>
    where
        K: Hash + Eq + Send + Sync,
        V: Send + Sync,
        S: BuildHasher + Sync,
        R: Reclaimer,
    {
        /// A parallel iterator over clones of the entries (a [`Ref`] holds a
        /// thread's pin, so it cannot travel between rayon's threads).
        /// Weakly consistent, like [`iter`](Self::iter). Feature `rayon`.
        ///
        /// ```
        /// use epoch_cache::Cache;
        /// use rayon::prelude::*;
        ///
        /// let cache: Cache<u64, u64> = Cache::new(1_000);
        /// (0..100).for_each(|k| cache.insert(k, k));
        /// let sum: u64 = cache.par_iter().map(|(_, v)| v).sum();
        /// assert_eq!(sum, (0..100).sum());
        /// ```
        pub fn par_iter(&self) -> impl ParallelIterator<Item = (K, V)> + '_
        where
            K: Clone,
            V: Clone,
        {
            (0..self.table.set_count())
                .into_par_iter()
                .flat_map_iter(move |set| {
                    let guard = self.table.reclaimer.pin();
                    let mut entries = Vec::with_capacity(WAYS);
                    self.table.visit_set(&guard, set, |e| {
                        entries.push((e.key.clone(), e.value.clone()))
                    });
                    entries
                })
        }

        /// [`retain`](Self::retain) over rayon's threads. Feature `rayon`.
        ///
        /// ```
        /// use epoch_cache::Cache;
        ///
        /// let cache: Cache<u64, u64> = Cache::new(1_000);
        /// (0..100).for_each(|k| cache.insert(k, k));
        /// cache.par_retain(|k, _| *k < 10);
        /// assert_eq!(cache.len(), 10);
        /// ```
        pub fn par_retain(&self, keep: impl Fn(&K, &V) -> bool + Sync) {
            (0..self.table.set_count()).into_par_iter().for_each(|set| {
                let mut departures = Departures::new(&self.table);
                let guard = self.table.reclaimer.pin();
                self.table
                    .retain_set(&guard, &mut departures, set, &mut |k, v| keep(k, v));
            });
        }

        /// Inserts every pair of a parallel iterator, over rayon's threads.
        /// Feature `rayon`.
        ///
        /// ```
        /// use epoch_cache::Cache;
        /// use rayon::prelude::*;
        ///
        /// let cache: Cache<u64, u64> = Cache::new(1_000);
        /// cache.par_extend((0..100_u64).into_par_iter().map(|k| (k, k)));
        /// assert_eq!(cache.len(), 100);
        /// ```
        pub fn par_extend(&self, pairs: impl IntoParallelIterator<Item = (K, V)>) {
            pairs.into_par_iter().for_each(|(k, v)| self.insert(k, v));
        }
    }
}
