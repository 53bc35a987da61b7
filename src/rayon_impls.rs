//! Parallel bulk operations over rayon's threads (feature `rayon`).

use std::hash::{BuildHasher, Hash};

use rayon::prelude::*;

use crate::cache::Cache;
use crate::raw::reclaim::Reclaimer;
use crate::raw::set::WAYS;

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Sync,
    R: Reclaimer,
{
    /// A parallel iterator over clones of the entries (a [`Ref`](crate::Ref)
    /// holds a thread's pin, so it cannot travel between rayon's threads).
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
        let table = &self.core.table;
        (0..table.set_count())
            .into_par_iter()
            .flat_map_iter(move |set| {
                let guard = table.reclaimer.pin();
                let mut entries = Vec::with_capacity(WAYS);
                table.visit_set(&guard, set, |e| {
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
        let table = &self.core.table;
        (0..table.set_count()).into_par_iter().for_each(|set| {
            // Declared before the guard, so dropped after it: the listener
            // runs unpinned.
            let mut departures = table.departures();
            let guard = table.reclaimer.pin();
            table.retain_set(&guard, &mut departures, set, &mut |k, v| keep(k, v));
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
