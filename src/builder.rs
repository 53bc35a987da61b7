//! `Builder`: every option of a cache, checked once at `build`.

use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::BuildError;
use crate::raw::hooks::Listener;
use crate::raw::reclaim::{DefaultReclaimer, Reclaimer};
use crate::raw::table::Limits;
use crate::removal::RemovalCause;

/// Weighs an entry, for a cache with a bound on total weight.
pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;

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
    pub(crate) max_weight: Option<u64>,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) time_to_idle: Option<Duration>,
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
            max_weight: None,
            weigher: None,
            time_to_idle: None,
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

    /// A bound on the total weight of the entries, which [`weigher`](Self::weigher)
    /// gives each one; the two go together. [`capacity`](Self::capacity)
    /// still bounds the number of entries (and sizes the table), so set it
    /// to the most entries you expect at once.
    ///
    /// [`Cache::weight`](crate::Cache::weight) never exceeds it, at any
    /// instant, under any concurrency: an insert reserves its entry's weight
    /// before the entry becomes visible, evicting by the policy until it
    /// fits (first from the key's own two sets, then from any set). An
    /// entry heavier than the bound is never stored: it goes straight to
    /// the eviction listener as [`RemovalCause::Evicted`] (an older value of
    /// its key leaves as `Replaced`), and the insert returns normally.
    /// Zero is refused with [`BuildError::ZeroMaxWeight`](crate::BuildError::ZeroMaxWeight);
    /// without a weigher, with [`BuildError::MaxWeightWithoutWeigher`](crate::BuildError::MaxWeightWithoutWeigher).
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, Vec<u8>> = Cache::builder()
    ///     .capacity(1_000)
    ///     .max_weight(100)
    ///     .weigher(|_key: &u64, value: &Vec<u8>| value.len() as u64)
    ///     .build()?;
    /// cache.insert(1, vec![0; 60]);
    /// cache.insert(2, vec![0; 60]); // evicts key 1 to make room
    /// assert_eq!(cache.weight(), 60);
    /// cache.insert(3, vec![0; 101]); // heavier than the bound: not stored
    /// assert!(!cache.contains_key(&3));
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn max_weight(mut self, max_weight: u64) -> Self {
        self.max_weight = Some(max_weight);
        self
    }

    /// How much an entry weighs against [`max_weight`](Self::max_weight)
    /// (required with it, refused without it:
    /// [`BuildError::WeigherWithoutMaxWeight`](crate::BuildError::WeigherWithoutMaxWeight)).
    /// Each entry costs 8 more bytes, for its weight.
    ///
    /// It is called once per insert, and once per value loaded by
    /// [`get_or_insert_with`](crate::Cache::get_or_insert_with), before
    /// anything is reserved or linked, with no epoch pin held by the crate
    /// (through [`Pinned::insert`](crate::Pinned::insert) it runs under
    /// your pin). A weight of 0 is allowed: the entry costs no weight, but
    /// still counts against [`capacity`](Self::capacity). If the weigher
    /// panics, the panic reaches the caller of the insert, the key and value
    /// are dropped, and the cache is unchanged.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<String, String> = Cache::builder()
    ///     .capacity(10_000)
    ///     .max_weight(1 << 20)
    ///     .weigher(|key: &String, value: &String| (key.len() + value.len()) as u64)
    ///     .build()?;
    /// cache.insert("k".to_string(), "value".to_string());
    /// assert_eq!(cache.weight(), 6);
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Expires an entry not read for `idle` (a [`get`](crate::Cache::get),
    /// `get_cloned`, `contains_key`, or a hit of `get_or_insert_with`;
    /// iteration is not a read). Combines with
    /// [`time_to_live`](Self::time_to_live): whichever comes first wins.
    /// Each entry costs 8 more bytes, for its idle deadline.
    ///
    /// An idle-expired entry is never returned, is skipped by iteration, and
    /// leaves as [`RemovalCause::Expired`] when an insert next writes its
    /// set, or by [`retain`](crate::Cache::retain) or
    /// [`purge_expired`](crate::Cache::purge_expired). A read pushes the
    /// deadline back by reading the coarse clock, and stores only once the
    /// clock has moved an eighth of `idle` since the last store, so a hot
    /// entry's reads store nothing in all but a few: an entry may therefore
    /// expire up to an eighth of `idle` early, never late. Zero is refused
    /// with [`BuildError::ZeroTimeToIdle`](crate::BuildError::ZeroTimeToIdle);
    /// durations round up to whole milliseconds.
    ///
    /// ```
    /// use epoch_cache::Cache;
    /// use std::time::Duration;
    ///
    /// let cache: Cache<u64, u64> =
    ///     Cache::builder().capacity(10).time_to_idle(Duration::from_millis(40)).build()?;
    /// cache.insert(1, 1);
    /// std::thread::sleep(Duration::from_millis(60));
    /// assert!(!cache.contains_key(&1)); // not read for 40 ms
    /// # Ok::<(), epoch_cache::BuildError>(())
    /// ```
    pub fn time_to_idle(mut self, idle: Duration) -> Self {
        self.time_to_idle = Some(idle);
        self
    }

    /// Checks the weight and idle options, and turns them into the table's
    /// limits.
    pub(crate) fn limits(&self) -> Result<Limits, BuildError> {
        let max_weight = match (self.max_weight, &self.weigher) {
            (Some(0), _) => return Err(BuildError::ZeroMaxWeight),
            (Some(max), Some(_)) => Some(max),
            (None, None) => None,
            (Some(_), None) => return Err(BuildError::MaxWeightWithoutWeigher),
            (None, Some(_)) => return Err(BuildError::WeigherWithoutMaxWeight),
        };
        let idle_ms = match self.time_to_idle {
            Some(Duration::ZERO) => return Err(BuildError::ZeroTimeToIdle),
            Some(idle) => {
                Some(u64::try_from(idle.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
            }
            None => None,
        };
        Ok(Limits {
            max_weight,
            idle_ms,
        })
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
            max_weight: self.max_weight,
            weigher: self.weigher,
            time_to_idle: self.time_to_idle,
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
            max_weight: self.max_weight,
            weigher: self.weigher,
            time_to_idle: self.time_to_idle,
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
            .field("max_weight", &self.max_weight)
            .field("weigher", &self.weigher.is_some())
            .field("time_to_idle", &self.time_to_idle)
            .finish_non_exhaustive()
    }
}
