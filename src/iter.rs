//! `Iter`: a walk over the table slot by slot, safe alongside writers.
//!
//! Entries never move between slots, so an entry present for the whole walk
//! is seen exactly once; one inserted or removed during it may or may not be
//! (weak consistency, as for iterators of concurrent maps). Each step pins,
//! loads its slot and hands out what it loaded, unless it has expired.

use std::fmt;
use std::marker::PhantomData;

use crate::raw::reclaim::Reclaimer;
use crate::raw::set::WAYS;
use crate::raw::table::Table;
use crate::refs::Ref;

/// An iterator over the entries of a cache, from
/// [`Cache::iter`](crate::Cache::iter).
///
/// It holds no pin between calls; each [`Ref`] it returns holds its own, so
/// drop them promptly.
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
    table: &'a Table<K, V, R>,
    /// The next slot to read, counting slots across sets.
    next_slot: usize,
    _hasher: PhantomData<&'a S>,
}

impl<'a, K, V, S, R: Reclaimer> Iter<'a, K, V, S, R> {
    pub(crate) fn new(table: &'a Table<K, V, R>) -> Self {
        Iter {
            table,
            next_slot: 0,
            _hasher: PhantomData,
        }
    }
}

impl<'a, K, V, S, R: Reclaimer> Iterator for Iter<'a, K, V, S, R> {
    type Item = Ref<'a, K, V, R>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next_slot < self.table.slots() {
            let (set, slot) = (self.next_slot / WAYS, self.next_slot % WAYS);
            self.next_slot += 1;
            if let Some(entry) = self.table.guarded_at(set, slot) {
                return Some(Ref::new(entry));
            }
        }
        None
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Iter<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next_slot", &self.next_slot)
            .finish_non_exhaustive()
    }
}
