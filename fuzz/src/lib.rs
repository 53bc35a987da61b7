//! Shared by the fuzz targets: a hasher the fuzzer configures, a value that
//! counts its drops and detects use after free, and a per-key model.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arbitrary::Arbitrary;
use epoch_cache::{Cache, Reclaimer};

/// A deterministic hasher whose mixing the fuzzer picks: `mul == 0` sends
/// every key to the same two sets with the same tag, the worst case.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct FuzzHash {
    pub mul: u64,
    pub xor: u64,
}

impl BuildHasher for FuzzHash {
    type Hasher = FuzzHasher;

    fn build_hasher(&self) -> FuzzHasher {
        FuzzHasher {
            state: 0,
            mix: *self,
        }
    }
}

pub struct FuzzHasher {
    state: u64,
    mix: FuzzHash,
}

impl Hasher for FuzzHasher {
    fn finish(&self) -> u64 {
        (self.state ^ self.mix.xor).wrapping_mul(self.mix.mul)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = self.state.rotate_left(8) ^ u64::from(b);
        }
    }
}

/// Which reclamation backend a run uses.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Backend {
    Seize,
    Crossbeam,
}

pub type FuzzCache<R> = Cache<u16, Tracked, FuzzHash, R>;

pub fn build<R: Reclaimer>(capacity: usize, hash: FuzzHash) -> FuzzCache<R> {
    Cache::builder()
        .capacity(capacity)
        .hasher(hash)
        .reclaimer::<R>()
        .build()
        .expect("a small capacity builds")
}

/// A cache bounded by weight as well: each value weighs the low three bits
/// of its sequence number (0 to 7), against `max_weight` (at least 1), so
/// some values weigh nothing and some are too heavy to be stored.
pub fn build_weighted<R: Reclaimer>(
    capacity: usize,
    hash: FuzzHash,
    max_weight: u8,
) -> FuzzCache<R> {
    Cache::builder()
        .capacity(capacity)
        .max_weight(u64::from(max_weight).max(1))
        .weigher(|_: &u16, value: &Tracked| value.seq & 7)
        .hasher(hash)
        .reclaimer::<R>()
        .build()
        .expect("a small capacity builds")
}

/// Runs `f` with the backend `backend` names.
#[macro_export]
macro_rules! with_backend {
    ($backend:expr, $f:ident($($arg:expr),*)) => {
        match $backend {
            $crate::Backend::Seize => $f::<epoch_cache::Seize>($($arg),*),
            $crate::Backend::Crossbeam => $f::<epoch_cache::Crossbeam>($($arg),*),
        }
    };
}

/// Counts the values made and dropped in one run.
#[derive(Default)]
pub struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

impl Ledger {
    pub fn value(self: &Arc<Self>, key: u16, seq: u64) -> Tracked {
        self.made.fetch_add(1, Ordering::Relaxed);
        Tracked {
            key,
            seq,
            check: !seq,
            ledger: Arc::clone(self),
        }
    }

    /// Every value made was dropped exactly once; call after the cache is gone.
    pub fn assert_all_dropped(&self) {
        let made = self.made.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        assert_eq!(dropped, made, "values dropped != values made");
    }
}

/// A cached value: its key, a sequence number unique per run, and a check
/// word that its drop poisons, so a value read after being freed (where ASan
/// did not already stop the run) fails `assert_intact`.
pub struct Tracked {
    pub key: u16,
    pub seq: u64,
    check: u64,
    ledger: Arc<Ledger>,
}

impl Tracked {
    pub fn assert_intact(&self) {
        assert_eq!(
            self.check, !self.seq,
            "value of key {} seq {} read after drop",
            self.key, self.seq
        );
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        self.assert_intact();
        self.ledger.value(self.key, self.seq)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.check != !self.seq {
            // The cache swallows panics from values' drops, so abort: a value
            // dropped twice is a double free.
            eprintln!(
                "value of key {} seq {} dropped twice or corrupted",
                self.key, self.seq
            );
            std::process::abort();
        }
        self.check = 0xDEAD;
        self.ledger.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one thread knows about the keys only it writes: for each, the
/// latest value it inserted, or `None` once the key is known to be absent.
/// Evictions and `clear` only ever take keys away, so a key seen absent stays
/// absent until its owner inserts it again.
#[derive(Default)]
pub struct Model {
    latest: HashMap<u16, Option<u64>>,
}

impl Model {
    pub fn inserted(&mut self, key: u16, seq: u64) {
        self.latest.insert(key, Some(seq));
    }

    pub fn removed(&mut self, key: u16) {
        self.latest.insert(key, None);
    }

    pub fn cleared(&mut self) {
        self.latest.clear();
    }

    /// Checks a lookup of `key` against the model and learns from it.
    pub fn check_get(&mut self, key: u16, got: Option<(u16, u64)>) {
        let expected = self.latest.get(&key).copied().flatten();
        match (got, expected) {
            (None, _) => self.removed(key),
            (Some((k, seq)), Some(latest)) => {
                assert_eq!(k, key, "get({key}) returned the value of key {k}");
                assert_eq!(
                    seq, latest,
                    "get({key}) returned seq {seq}, latest insert was {latest}"
                );
            }
            (Some((k, seq)), None) => {
                panic!("get({key}) returned (key {k}, seq {seq}) for a key known absent")
            }
        }
    }

    /// Checks `remove(key)`'s result: it cannot remove a key known absent.
    pub fn check_remove(&mut self, key: u16, removed: bool) {
        if removed {
            assert!(
                self.latest.get(&key).copied().flatten().is_some(),
                "remove({key}) removed a key known absent"
            );
        }
        self.removed(key);
    }
}

/// Touches, on the fuzzing thread, every thread-local the cache and its
/// reclaimers use, before the first input runs.
///
/// The first use of a thread-local with a destructor makes glibc allocate
/// the entry that runs it at thread exit (`__cxa_thread_atexit_impl`). On the
/// main thread that entry lives until the process ends, so libFuzzer's
/// per-input leak check would blame whichever input happened to come first.
pub fn warm_up_thread_locals() {
    fn touch<R: Reclaimer>() {
        let ledger = Arc::new(Ledger::default());
        let cache = build::<R>(4, FuzzHash { mul: 1, xor: 0 });
        for key in 0..16 {
            cache.insert(key, ledger.value(key, u64::from(key)));
            let _ = cache.get(&key);
            cache.pin().remove(&key);
        }
        cache.clear();
    }
    touch::<epoch_cache::Seize>();
    touch::<epoch_cache::Crossbeam>();
}
