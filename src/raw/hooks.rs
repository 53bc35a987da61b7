//! What happens when an entry leaves the cache: it is counted, and shown to
//! the eviction listener.

use crate::stats::Stats;
use crate::RemovalCause;

/// Called with every entry that leaves the cache, after it is unlinked.
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// The cache's observers of departures.
pub(crate) struct Hooks<K, V> {
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) stats: Option<Stats>,
}
