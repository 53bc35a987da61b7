//! `Iter`: a walk over the table set by set, safe alongside writers.
//!
//! Entries never move between slots, so an entry present for the whole walk
//! is seen exactly once; one inserted or removed during it may or may not be
//! (weak consistency, as for iterators of concurrent maps). Expiry is checked
//! when an entry is handed out, not when its set was read.

use std::fmt;
use std::marker::PhantomData;

use crate::raw::guarded::SetSnapshot;
use crate::raw::reclaim::Reclaimer;
use crate::raw::set::WAYS;
use crate::raw::table::Table;
use crate::refs::Ref;

/// An iterator over the entries of a cache, from
/// [`Cache::iter`](crate::Cache::iter).
///
/// It holds a pin for the set it is in and each [`Ref`] it returns holds its
/// own, so drop them promptly.
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
    /// The next set to read.
    next_set: usize,
    /// The set being handed out, and the pin that keeps its entries.
    current: Option<SetSnapshot<'a, K, V, R>>,
    _hasher: PhantomData<&'a S>,
}

impl<'a, K, V, S, R: Reclaimer> Iter<'a, K, V, S, R> {
    pub(crate) fn new(table: &'a Table<K, V, R>) -> Self {
        Iter {
            table,
            next_set: 0,
            current: None,
            _hasher: PhantomData,
        }
    }
}

impl<'a, K, V, S, R: Reclaimer> Iterator for Iter<'a, K, V, S, R> {
    type Item = Ref<'a, K, V, R>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(set) = &mut self.current {
                if let Some(entry) = set.next(self.table) {
                    return Some(Ref::new(entry));
                }
            }
            if self.next_set == self.table.set_count() {
                self.current = None;
                return None;
            }
            // Reuse the buffer; the old snapshot's pin goes with it.
            let buffer = match self.current.take() {
                Some(set) => set.into_buffer(),
                None => Vec::with_capacity(WAYS),
            };
            self.current = Some(SetSnapshot::read(self.table, self.next_set, buffer));
            self.next_set += 1;
        }
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for Iter<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next_set", &self.next_set)
            .finish_non_exhaustive()
    }
}
