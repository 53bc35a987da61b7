//! Passes over the whole cache: iteration, `retain`, `purge_expired`.

use std::hash::{BuildHasher, Hash};

use super::Cache;
use crate::iter::Iter;
use crate::raw::reclaim::Reclaimer;

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Iterates over the entries, each as a guarded [`Ref`](crate::Ref). Weakly
    /// consistent: safe alongside writers; an entry present throughout is
    /// seen exactly once; an entry expired by the time `next()` reaches it is
    /// skipped.
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
        Iter::new(&self.core.table)
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
        let table = &self.core.table;
        self.core
            .for_each_set(|guard, out, set| table.retain_set(guard, out, set, &mut keep));
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
        let table = &self.core.table;
        self.core
            .for_each_set(|guard, out, set| table.purge_set(guard, out, set));
    }
}
