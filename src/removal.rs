//! Why an entry left the cache.

/// Why an entry left the cache.
///
/// Non-exhaustive: later versions may tell more causes apart, so a `match`
/// on it needs a `_` arm.
///
/// For users coming from moka, whose `notification::RemovalCause` has four
/// variants:
///
/// | moka          | here                                                        |
/// |---------------|-------------------------------------------------------------|
/// | `Size`        | [`Evicted`](Self::Evicted)                                  |
/// | `Expired`     | [`Expired`](Self::Expired)                                  |
/// | `Explicit`    | [`Removed`](Self::Removed), and [`Cleared`](Self::Cleared) for `clear` (moka's `invalidate_all`) |
/// | `Replaced`    | [`Replaced`](Self::Replaced)                                |
///
/// As in moka, [`was_evicted`](Self::was_evicted) is true for `Evicted` and
/// `Expired`.
///
/// ```
/// use epoch_cache::RemovalCause;
///
/// assert!(RemovalCause::Evicted.was_evicted());
/// assert!(!RemovalCause::Removed.was_evicted());
/// ```
///
/// A `match` without a catch-all arm does not compile outside this crate:
///
/// ```compile_fail
/// use epoch_cache::RemovalCause;
///
/// fn name(cause: RemovalCause) -> &'static str {
///     match cause {
///         RemovalCause::Evicted => "evicted",
///         RemovalCause::Expired => "expired",
///         RemovalCause::Removed => "removed",
///         RemovalCause::Replaced => "replaced",
///         RemovalCause::Cleared => "cleared",
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    ///
    /// ```
    /// use epoch_cache::RemovalCause;
    ///
    /// assert!(RemovalCause::Expired.was_evicted());
    /// assert!(!RemovalCause::Replaced.was_evicted());
    /// ```
    pub fn was_evicted(self) -> bool {
        matches!(self, RemovalCause::Evicted | RemovalCause::Expired)
    }
}
