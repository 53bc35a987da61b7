//! The contenders behind one trait, with u64 keys and values: epoch-cache on
//! each reclamation backend, four locked caches written here, and the peers.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, RwLock};

use epoch_cache::{Cache, Crossbeam, DefaultHashBuilder, Reclaimer, Seize};
use mini_moka::sync::ConcurrentCacheExt;

/// A bounded concurrent cache of u64 keys and values.
pub trait Contender: Send + Sync + 'static {
    /// A cache holding at most `capacity` entries.
    fn with_capacity(capacity: usize) -> Self;
    /// The value of `key`, copied out.
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
    /// Entries held, after `sync`.
    fn len(&self) -> usize;
    /// Whether the cache holds no entry, after `sync`.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Runs deferred maintenance, for caches that buffer it (moka).
    fn sync(&self) {}
}

/// epoch-cache on reclamation backend `R`, with its default hasher (foldhash).
pub struct Epoch<R: Reclaimer>(Cache<u64, u64, DefaultHashBuilder, R>);

/// epoch-cache on seize.
pub type EpochSeize = Epoch<Seize>;
/// epoch-cache on crossbeam-epoch.
pub type EpochCrossbeam = Epoch<Crossbeam>;

impl<R: Reclaimer> Epoch<R> {
    /// The cache itself, for what the `Contender` trait does not cover.
    pub fn cache(&self) -> &Cache<u64, u64, DefaultHashBuilder, R> {
        &self.0
    }
}

impl<R: Reclaimer> Contender for Epoch<R> {
    fn with_capacity(capacity: usize) -> Self {
        let cache = Cache::<u64, u64>::builder()
            .capacity(capacity)
            .reclaimer::<R>()
            .build()
            .expect("a valid capacity");
        Epoch(cache)
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|value| *value)
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// One `lru::LruCache` behind one `Mutex`: every operation, reads included,
/// takes the lock (an LRU read moves the entry to the front).
pub struct MutexLru(Mutex<lru::LruCache<u64, u64>>);

fn lru_cache(capacity: usize) -> lru::LruCache<u64, u64> {
    lru::LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("non-zero"))
}

impl Contender for MutexLru {
    fn with_capacity(capacity: usize) -> Self {
        MutexLru(Mutex::new(lru_cache(capacity)))
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&key).copied()
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.lock().unwrap().put(key, value);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

const SHARDS: usize = 16;

/// Sixteen `Mutex<LruCache>` shards, each with a sixteenth of the capacity;
/// a key's shard is picked from the top bits of a multiplicative hash.
pub struct ShardedLru(Box<[Mutex<lru::LruCache<u64, u64>>]>);

impl ShardedLru {
    #[inline]
    fn shard(&self, key: u64) -> &Mutex<lru::LruCache<u64, u64>> {
        let index = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros());
        &self.0[index as usize]
    }
}

impl Contender for ShardedLru {
    fn with_capacity(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        ShardedLru(
            (0..SHARDS)
                .map(|_| Mutex::new(lru_cache(per_shard)))
                .collect(),
        )
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.shard(key).lock().unwrap().get(&key).copied()
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.shard(key).lock().unwrap().put(key, value);
    }

    fn len(&self) -> usize {
        self.0.iter().map(|shard| shard.lock().unwrap().len()).sum()
    }
}

/// The pattern epoch-cache replaces: a `RwLock<HashMap<K, Arc<V>>>` whose
/// readers take the read lock and leave with a reference-counted handle, and
/// whose writers evict (first in, first out) under the write lock.
pub struct RwLockArc {
    inner: RwLock<Fifo>,
    capacity: usize,
}

struct Fifo {
    map: HashMap<u64, Arc<u64>, DefaultHashBuilder>,
    // Invariant: holds each key of `map` once, oldest first.
    order: VecDeque<u64>,
}

impl RwLockArc {
    /// The handle a caller of this pattern holds: one count up, one down.
    #[inline]
    fn handle(&self, key: u64) -> Option<Arc<u64>> {
        self.inner.read().unwrap().map.get(&key).cloned()
    }
}

impl Contender for RwLockArc {
    fn with_capacity(capacity: usize) -> Self {
        RwLockArc {
            inner: RwLock::new(Fifo {
                map: HashMap::with_capacity_and_hasher(capacity, DefaultHashBuilder::default()),
                order: VecDeque::with_capacity(capacity),
            }),
            capacity: capacity.max(1),
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.handle(key).map(|value| *value)
    }

    // Inline like every other get and insert: the runners are monomorphised
    // in the caller's crate, across a crate boundary from here.
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let mut inner = self.inner.write().unwrap();
        let Fifo { map, order } = &mut *inner;
        if let Some(slot) = map.get_mut(&key) {
            *slot = Arc::new(value);
            return;
        }
        while map.len() >= self.capacity {
            let oldest = order.pop_front().expect("order holds every key of map");
            map.remove(&oldest);
        }
        map.insert(key, Arc::new(value));
        order.push_back(key);
    }

    fn len(&self) -> usize {
        self.inner.read().unwrap().map.len()
    }
}

/// The Rust form of the concurrent map plus reference-counted handles that
/// many services build by hand: a `DashMap<K, Arc<V>>` whose readers take a
/// shard's read lock and leave with a clone of the `Arc`, bounded by a FIFO
/// per stripe of keys. An insert of a new key takes its stripe's lock and,
/// under it, evicts the stripe's oldest key once the stripe holds its share
/// of the capacity (first in, first out within each of 16 stripes).
pub struct DashMapArc {
    map: dashmap::DashMap<u64, Arc<u64>, DefaultHashBuilder>,
    // Invariant: stripe `i` holds, oldest first, each key of `map` whose
    // stripe is `i`, once; only an insert holding its lock changes them.
    stripes: Box<[Mutex<VecDeque<u64>>]>,
    per_stripe: usize,
}

impl DashMapArc {
    #[inline]
    fn stripe(&self, key: u64) -> &Mutex<VecDeque<u64>> {
        // The low bits of the same multiplicative hash ShardedLru uses (its
        // top bits), so that the stripe is independent of DashMap's shard.
        let index = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize % SHARDS;
        &self.stripes[index]
    }

    /// The handle a caller of this pattern holds: one count up, one down.
    #[inline]
    fn handle(&self, key: u64) -> Option<Arc<u64>> {
        self.map.get(&key).map(|entry| Arc::clone(entry.value()))
    }
}

impl Contender for DashMapArc {
    fn with_capacity(capacity: usize) -> Self {
        let per_stripe = capacity.div_ceil(SHARDS).max(1);
        DashMapArc {
            map: dashmap::DashMap::with_capacity_and_hasher(
                capacity,
                DefaultHashBuilder::default(),
            ),
            stripes: (0..SHARDS)
                .map(|_| Mutex::new(VecDeque::with_capacity(per_stripe)))
                .collect(),
            per_stripe,
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.handle(key).map(|value| *value)
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let mut order = self.stripe(key).lock().unwrap();
        if self.map.insert(key, Arc::new(value)).is_some() {
            return; // replaced in place: already in the order
        }
        order.push_back(key);
        while order.len() > self.per_stripe {
            let oldest = order.pop_front().expect("longer than its share");
            self.map.remove(&oldest);
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// moka 0.12 `sync::Cache` (TinyLFU admission, W-TinyLFU eviction; std
/// `RandomState` hasher).
pub struct Moka(moka::sync::Cache<u64, u64>);

impl Contender for Moka {
    fn with_capacity(capacity: usize) -> Self {
        Moka(moka::sync::Cache::new(capacity as u64))
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }

    fn len(&self) -> usize {
        self.0.entry_count() as usize
    }

    fn sync(&self) {
        self.0.run_pending_tasks();
    }
}

/// quick_cache 0.7 `sync::Cache` (sharded CLOCK-Pro-like; foldhash-quality).
pub struct Quick(quick_cache::sync::Cache<u64, u64>);

impl Contender for Quick {
    fn with_capacity(capacity: usize) -> Self {
        Quick(quick_cache::sync::Cache::new(capacity))
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// mini-moka 0.10 `sync::Cache` (moka's smaller sibling; std `RandomState`).
pub struct MiniMoka(mini_moka::sync::Cache<u64, u64>);

impl Contender for MiniMoka {
    fn with_capacity(capacity: usize) -> Self {
        MiniMoka(mini_moka::sync::Cache::new(capacity as u64))
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }

    fn len(&self) -> usize {
        self.0.entry_count() as usize
    }

    fn sync(&self) {
        self.0.sync();
    }
}

/// Which contender: a plain value to loop over; `with_contender!` turns it
/// back into a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    EpochSeize,
    EpochCrossbeam,
    MutexLru,
    ShardedLru,
    RwLockArc,
    DashMapArc,
    Moka,
    Quick,
    MiniMoka,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::EpochSeize,
        Kind::EpochCrossbeam,
        Kind::MutexLru,
        Kind::ShardedLru,
        Kind::RwLockArc,
        Kind::DashMapArc,
        Kind::Moka,
        Kind::Quick,
        Kind::MiniMoka,
    ];

    /// epoch-cache and the locked variants: the latency bench's field.
    pub const LOCAL: [Kind; 6] = [
        Kind::EpochSeize,
        Kind::EpochCrossbeam,
        Kind::MutexLru,
        Kind::ShardedLru,
        Kind::RwLockArc,
        Kind::DashMapArc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::EpochSeize => "epoch-cache/seize",
            Kind::EpochCrossbeam => "epoch-cache/crossbeam",
            Kind::MutexLru => "Mutex<LruCache>",
            Kind::ShardedLru => "16xMutex<LruCache>",
            Kind::RwLockArc => "RwLock<HashMap<Arc>>",
            Kind::DashMapArc => "DashMap<Arc>",
            Kind::Moka => "moka",
            Kind::Quick => "quick_cache",
            Kind::MiniMoka => "mini-moka",
        }
    }
}

/// Evaluates `$body` with `$C` bound to the contender type of `$kind`.
///
/// ```
/// use bench_support::contenders::{Contender, Kind};
/// use bench_support::with_contender;
///
/// let held = with_contender!(Kind::Quick, C => C::with_capacity(64).len());
/// assert_eq!(held, 0);
/// ```
#[macro_export]
macro_rules! with_contender {
    ($kind:expr, $C:ident => $body:expr) => {{
        use $crate::contenders as c;
        match $kind {
            c::Kind::EpochSeize => {
                type $C = c::EpochSeize;
                $body
            }
            c::Kind::EpochCrossbeam => {
                type $C = c::EpochCrossbeam;
                $body
            }
            c::Kind::MutexLru => {
                type $C = c::MutexLru;
                $body
            }
            c::Kind::ShardedLru => {
                type $C = c::ShardedLru;
                $body
            }
            c::Kind::RwLockArc => {
                type $C = c::RwLockArc;
                $body
            }
            c::Kind::DashMapArc => {
                type $C = c::DashMapArc;
                $body
            }
            c::Kind::Moka => {
                type $C = c::Moka;
                $body
            }
            c::Kind::Quick => {
                type $C = c::Quick;
                $body
            }
            c::Kind::MiniMoka => {
                type $C = c::MiniMoka;
                $body
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashmap_arc_stays_within_its_capacity_first_in_first_out() {
        let cache = DashMapArc::with_capacity(160);
        for key in 0..10_000 {
            cache.insert(key, key + 1);
            assert!(cache.len() <= 160, "{} held after key {key}", cache.len());
        }
        // The newest key of every stripe is held; the first keys are gone.
        assert_eq!(cache.get(9_999), Some(10_000));
        assert_eq!(cache.get(0), None);
        // A replaced key keeps its place and takes the new value.
        cache.insert(9_999, 7);
        assert_eq!(cache.get(9_999), Some(7));
        assert!(cache.len() <= 160);
    }
}
