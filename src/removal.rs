//! Why an entry left the cache.

/// Why an entry left the cache.
///
/// ```
/// use epoch_cache::RemovalCause;
///
/// assert!(RemovalCause::Evicted.was_evicted());
/// assert!(!RemovalCause::Removed.was_evicted());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemovalCause {
    /// Pushed out by the eviction policy to make room.
    Evicted,
    /// Its time to live ran out.
    Expired,
    /// Removed by [`Cache::remove`](crate::Cache::remove) or `retain`.
    Removed,
    /// Its key was inserted again with a new value.
    Replaced,
    /// Removed by [`Cache::clear`](crate::Cache::clear).
    Cleared,
}

impl RemovalCause {
    /// True when the cache, not the user, chose to drop the entry.
    pub fn was_evicted(self) -> bool {
        matches!(self, RemovalCause::Evicted | RemovalCause::Expired)
    }
}
