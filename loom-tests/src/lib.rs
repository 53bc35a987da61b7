//! Shared pieces of the loom models: a deterministic hasher, keys and values
//! whose every read and whose drop go through a `loom::cell::UnsafeCell`, and
//! a drop log that proves each value is dropped exactly once.
//!
//! The models live in `tests/`; they drive the real `epoch_cache::Cache`,
//! whose atomics come from loom (`--cfg epoch_cache_loom`) and whose
//! reclamation runs on crossbeam-epoch's loom build (`--cfg crossbeam_loom`).
//!
//! What loom then reports:
//!
//! - a read of a key or value that is not ordered after its creation (an
//!   entry published without Release) is a causality violation between the
//!   cell's creation and the read;
//! - a read not ordered before the drop (an entry freed while a guard could
//!   still see it) is a causality violation between the drop's write and the
//!   read, or a read of the poison the drop left.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::sync::{Arc, Mutex};

use epoch_cache::{Cache, Crossbeam};
use loom::cell::UnsafeCell;

/// The cache every model drives. Keys hash to their id, so a model is
/// deterministic (a randomly seeded hasher would move keys between loom
/// iterations) and every key probes both sets of a two-set table.
pub type LoomCache = Cache<Key, Value, IdentityHash, Crossbeam>;

/// A cache of `capacity` entries. Capacities up to 11 give the smallest table:
/// two sets of seven slots, both of which every key probes.
pub fn cache(capacity: usize) -> LoomCache {
    Cache::builder()
        .capacity(capacity)
        .hasher(IdentityHash)
        .reclaimer::<Crossbeam>()
        .build()
        .expect("a small capacity builds")
}

/// Hashes a [`Key`] to its id.
#[derive(Clone, Copy, Default)]
pub struct IdentityHash;

impl BuildHasher for IdentityHash {
    type Hasher = Identity;

    fn build_hasher(&self) -> Identity {
        Identity(0)
    }
}

pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Written into a cell when its key or value is dropped.
const POISON: u64 = u64::MAX;

/// A loom-tracked `u64`: reads through `with`, the drop through `with_mut`.
///
/// `#[repr(C)]` with a header first: when a mutant frees an entry early, the
/// allocator reuses the first words of the freed block for its free list, and
/// the header keeps it from overwriting the cell's loom bookkeeping, so that
/// loom reports the late read itself instead of tripping over garbage.
#[repr(C)]
struct Tracked {
    _freed_header: [u64; 2],
    cell: UnsafeCell<u64>,
}

// SAFETY: the cell is written only in `Drop`, through `&mut self`, so shared
// references only ever read it; loom checks that claim on every access.
unsafe impl Sync for Tracked {}

impl Tracked {
    fn new(n: u64) -> Self {
        Tracked {
            _freed_header: [0; 2],
            cell: UnsafeCell::new(n),
        }
    }

    fn read(&self, what: &str) -> u64 {
        // SAFETY: a shared read; loom checks it is ordered with every write.
        let n = self.cell.with(|p| unsafe { *p });
        assert_ne!(n, POISON, "read a {what} after its drop");
        n
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A model already failed; its message is the one to read.
            return;
        }
        // SAFETY: `&mut self`: no other reference exists, if the cache is right.
        let poison = || self.cell.with_mut(|p| unsafe { *p = POISON });
        // The cache swallows panics from a drop it runs during reclamation
        // (no caller could handle them), so a causality violation reported
        // here would go unnoticed: abort instead. Loom's panic hook has
        // already printed the violation.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(poison)).is_err() {
            eprintln!(
                "loom model: a key or value was freed while another thread could still read it"
            );
            std::process::abort();
        }
    }
}

/// A key: its id, in a tracked cell that every hash and comparison reads.
#[repr(C)]
pub struct Key(Tracked);

/// The key with id `id`.
pub fn key(id: u64) -> Key {
    Key(Tracked::new(id))
}

impl Key {
    pub fn id(&self) -> u64 {
        self.0.read("key")
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.id());
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Key {}

/// A cached value: its id in a tracked cell, and the log its drop goes to.
#[repr(C)]
pub struct Value {
    tracked: Tracked,
    id: u64,
    log: Arc<DropLog>,
}

impl Value {
    /// Reads the value through its cell; panics if it was already dropped.
    pub fn read(&self) -> u64 {
        let seen = self.tracked.read("value");
        assert_eq!(seen, self.id, "value {} corrupted", self.id);
        seen
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        lock(&self.log.dropped).push(self.id);
    }
}

/// Which values were made and which dropped, in one model iteration. Plain
/// std types: the log is the test's own bookkeeping, not part of the model.
#[derive(Default)]
pub struct DropLog {
    made: Mutex<Vec<u64>>,
    dropped: Mutex<Vec<u64>>,
}

impl DropLog {
    pub fn new() -> Arc<Self> {
        Arc::new(DropLog::default())
    }

    /// A value whose cell holds `id`; ids must be unique within a model.
    pub fn value(self: &Arc<Self>, id: u64) -> Value {
        lock(&self.made).push(id);
        Value {
            tracked: Tracked::new(id),
            id,
            log: Arc::clone(self),
        }
    }

    /// How many times the value `id` has been dropped so far.
    pub fn drops_of(&self, id: u64) -> usize {
        lock(&self.dropped).iter().filter(|&&d| d == id).count()
    }

    /// Every value made was dropped exactly once. Call after the cache is gone.
    pub fn assert_each_dropped_once(&self) {
        let mut made = lock(&self.made).clone();
        let mut dropped = lock(&self.dropped).clone();
        made.sort_unstable();
        dropped.sort_unstable();
        assert_eq!(
            dropped, made,
            "values dropped (left) differ from values made (right)"
        );
    }
}

/// Locks `m`, ignoring poison: a panic elsewhere must not hide the log.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` under loom with at most `preemptions` preemptions per
/// interleaving (`LOOM_MAX_PREEMPTIONS` overrides it) and room for 20,000
/// branches. Models pass 3 where that finishes in seconds, else 2. Prints how
/// many interleavings loom explored (visible with `--nocapture`).
pub fn model<F>(preemptions: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    // An insert that finds every candidate slot pending spins (yielding to
    // loom) until the pending insert settles; each round is some fifty atomic
    // operations, so the default limit of 1,000 branches is too tight.
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 20_000;
    }
    let iterations = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&iterations);
    builder.check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    let name = std::thread::current().name().unwrap_or("model").to_owned();
    eprintln!(
        "{name}: {} interleavings, at most {} preemptions",
        iterations.load(StdOrdering::Relaxed),
        builder.preemption_bound.unwrap_or(0)
    );
}

/// Waits, yielding to loom, until `flag` is set.
pub fn wait_for(flag: &loom::sync::atomic::AtomicBool) {
    // Acquire: pairs with the Release store of the thread that sets it.
    while !flag.load(loom::sync::atomic::Ordering::Acquire) {
        loom::thread::yield_now();
    }
}

/// Spawns a thread that looks `id` up and, if it is there, checks that its
/// value is `expected` and intact.
pub fn spawn_reader(
    cache: &loom::sync::Arc<LoomCache>,
    id: u64,
    expected: u64,
) -> loom::thread::JoinHandle<()> {
    let cache = loom::sync::Arc::clone(cache);
    loom::thread::spawn(move || {
        if let Some(r) = cache.get(&key(id)) {
            assert_eq!(r.read(), expected);
        }
    })
}

/// Ends a model: the table's invariants hold, and once the cache is dropped
/// every value made through `log` was dropped exactly once.
pub fn finish(cache: loom::sync::Arc<LoomCache>, log: &DropLog) {
    cache.validate();
    drop(cache);
    log.assert_each_dropped_once();
}
