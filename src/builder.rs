//! `Builder`: every option of a cache, checked once at `build`.

use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::time::Duration;

use crate::raw::hooks::Listener;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};
use crate::removal::RemovalCause;

/// The default hasher: foldhash's fast variant, randomly seeded per cache.
///
/// foldhash is the quickest good-quality hasher for short keys (it is what
/// hashbrown uses by default), and its per-instance random seed keeps an
/// attacker from choosing keys that pile into the same sets. A lookup reads
/// at most two sets whatever the keys, so a bad hash costs hit ratio, never
/// unbounded time.
///
/// ```
/// use epoch_cache::{Cache, DefaultHashBuilder};
///
/// // What `Cache::new` uses; name it to pass one to `Builder::hasher`.
/// let cache: Cache<String, u32, DefaultHashBuilder> =
///     Cache::builder().capacity(10).hasher(DefaultHashBuilder::default()).build()?;
/// cache.insert("a".to_string(), 1);
/// assert_eq!(cache.get_cloned("a"), Some(1));
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// Configures and builds a [`Cache`](crate::Cache).
///
/// ```
/// use epoch_cache::{Cache, RemovalCause, Seize};
/// use std::collections::hash_map::RandomState;
/// use std::time::Duration;
///
/// let cache: Cache<String, Vec<u8>, RandomState, Seize> = Cache::builder()
///     .capacity(100_000)
///     .time_to_live(Duration::from_secs(60))
///     .eviction_listener(|key: &String, _value: &Vec<u8>, cause: RemovalCause| {
///         if cause.was_evicted() {
///             eprintln!("{key} left: {cause:?}");
///         }
///     })
///     .record_stats(true)
///     .hasher(RandomState::new())
///     .reclaimer::<Seize>()
///     .build()?;
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
/// (`build` is with `Cache`, in `cache/mod.rs`, the one module that makes one.)
pub struct Builder<K, V, S = DefaultHashBuilder, R = DefaultReclaimer> {
    pub(crate) capacity: Option<usize>,
    pub(crate) hasher: S,
    pub(crate) time_to_live: Option<Duration>,
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) record_stats: bool,
    pub(crate) _reclaimer: PhantomData<fn() -> R>,
}

impl<K, V> Builder<K, V> {
    pub(crate) fn new() -> Self {
        Builder {
            capacity: None,
            hasher: DefaultHashBuilder::default(),
            time_to_live: None,
            listener: None,
            record_stats: false,
            _reclaimer: PhantomData,
        }
    }
}

impl<K, V, S, R: Reclaimer> Builder<K, V, S, R> {
    /// The most entries the cache may hold (required, at least 1).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(5).build()?;
    /// assert_eq!(cache.capacity(), 5);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// A time to live for every entry inserted without one of its own
    /// ([`Cache::insert_with_ttl`](crate::Cache::insert_with_ttl)). A duration too long to
    /// represent means "never expires". Default: none.
    ///
    /// A zero time to live means "expires at once", here as in
    /// `insert_with_ttl` (which then stores nothing and hands the value to the
    /// listener as [`Expired`](crate::RemovalCause::Expired)); as the default
    /// of a whole cache, that would be a cache that keeps nothing, surely a
    /// mistake, so `build` refuses it with
    /// [`BuildError::ZeroTimeToLive`](crate::BuildError::ZeroTimeToLive).
    ///
    /// ```
    /// use epoch_cache::{BuildError, Cache};
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> =
    ///     Cache::builder().capacity(5).time_to_live(Duration::from_secs(1)).build()?;
    /// let zero = Cache::<u64, u64>::builder().capacity(5).time_to_live(Duration::ZERO).build();
    /// assert_eq!(zero.unwrap_err(), BuildError::ZeroTimeToLive);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// A function called once for every entry that leaves the cache, with the
    /// cause, on the thread that unlinked it (and not for entries still held
    /// when the cache is dropped).
    ///
    /// It runs once that thread has let go of its epoch pin, before the entry
    /// is retired: at the end of the operation that unlinked it (`insert`,
    /// `retain`, a set of `clear`), or, for what `remove` removed and what
    /// `get_or_insert_with` evicted, when the [`Ref`](crate::Ref) it
    /// returned is dropped (a `Ref` is a pin). A slow listener therefore holds back no
    /// other thread's memory. Through [`Pinned`](crate::Pinned) it runs
    /// under that pin, which is yours. A panic in it is caught and
    /// discarded; the entry is still freed.
    ///
    /// ```
    /// use epoch_cache::{Cache, RemovalCause};
    /// use std::sync::Mutex;
    ///
    /// static LOG: Mutex<Vec<(u64, RemovalCause)>> = Mutex::new(Vec::new());
    /// let cache: Cache<u64, u64> = Cache::builder()
    ///     .capacity(10)
    ///     .eviction_listener(|k: &u64, _: &u64, cause| LOG.lock().unwrap().push((*k, cause)))
    ///     .build()?;
    /// cache.insert(1, 1);
    /// cache.insert(1, 2);
    /// cache.remove(&1);
    /// assert_eq!(*LOG.lock().unwrap(), [(1, RemovalCause::Replaced), (1, RemovalCause::Removed)]);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// Whether to count hits, misses, inserts and removals (default: no).
    /// Counters are per thread, so a hit writes nothing shared; disabled, they
    /// cost one predictable branch.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::builder().capacity(5).record_stats(true).build()?;
    /// cache.get(&1);
    /// assert_eq!(cache.stats().misses, 1);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn record_stats(mut self, enabled: bool) -> Self {
        self.record_stats = enabled;
        self
    }

    /// The hasher for keys.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::collections::hash_map::RandomState;
    ///
    /// let cache: Cache<u64, u64, RandomState> =
    ///     Cache::builder().capacity(5).hasher(RandomState::new()).build()?;
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> Builder<K, V, S2, R> {
        Builder {
            capacity: self.capacity,
            hasher,
            time_to_live: self.time_to_live,
            listener: self.listener,
            record_stats: self.record_stats,
            _reclaimer: PhantomData,
        }
    }

    /// The reclamation backend: [`Crossbeam`](crate::Crossbeam) (the
    /// default) or [`Seize`](crate::Seize).
    ///
    /// ```
    /// use epoch_cache::{Cache, DefaultHashBuilder, Seize};
    ///
    /// let cache: Cache<u64, u64, DefaultHashBuilder, Seize> =
    ///     Cache::builder().capacity(5).reclaimer::<Seize>().build()?;
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn reclaimer<R2: Reclaimer>(self) -> Builder<K, V, S, R2> {
        Builder {
            capacity: self.capacity,
            hasher: self.hasher,
            time_to_live: self.time_to_live,
            listener: self.listener,
            record_stats: self.record_stats,
            _reclaimer: PhantomData,
        }
    }
}

impl<K, V, S, R> fmt::Debug for Builder<K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("time_to_live", &self.time_to_live)
            .field("eviction_listener", &self.listener.is_some())
            .field("record_stats", &self.record_stats)
            .finish_non_exhaustive()
    }
}
