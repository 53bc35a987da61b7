//! Keys whose `Hash` or `Eq` panic and values whose `Drop` panics: nothing is
//! corrupted, nothing leaks, nothing is freed twice.

mod common;

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Counted, DropLedger};
use epoch_cache::{Cache, Reclaimer};

thread_local! {
    /// Panic on the n-th key comparison from now (0: never).
    static EQ_COUNTDOWN: Cell<usize> = const { Cell::new(0) };
    static HASH_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// A key whose `Eq` and `Hash` panic on command.
#[derive(Clone, Debug)]
struct Flaky(u64);

impl PartialEq for Flaky {
    fn eq(&self, other: &Self) -> bool {
        EQ_COUNTDOWN.with(|c| match c.get() {
            0 => {}
            1 => {
                c.set(0);
                panic!("Eq panics");
            }
            n => c.set(n - 1),
        });
        self.0 == other.0
    }
}

impl Eq for Flaky {}

impl Hash for Flaky {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(!HASH_PANICS.with(Cell::get), "Hash panics");
        self.0.hash(state);
    }
}

/// Sends every key to the same two sets with the same tag, so that every scan
/// compares every key: `Eq` runs in each phase of an insert.
#[derive(Clone, Default)]
struct OneBucket;

impl BuildHasher for OneBucket {
    type Hasher = ConstantHasher;
    fn build_hasher(&self) -> ConstantHasher {
        ConstantHasher
    }
}

struct ConstantHasher;

impl Hasher for ConstantHasher {
    fn finish(&self) -> u64 {
        0x0123_4567_89AB_CDEF
    }
    fn write(&mut self, _: &[u8]) {}
}

fn flaky_cache<R: Reclaimer>(capacity: usize) -> Cache<Flaky, Counted, OneBucket, R> {
    Cache::builder()
        .capacity(capacity)
        .hasher(OneBucket)
        .reclaimer::<R>()
        .build()
        .unwrap()
}

/// After a panic storm: no pending entry is stuck (iteration sees exactly
/// `len` entries), every value found belongs to its key, and no key is held
/// twice.
fn assert_consistent<R: Reclaimer>(c: &Cache<Flaky, Counted, OneBucket, R>) {
    let mut keys: Vec<u64> = c
        .iter()
        .map(|r| {
            r.assert_intact();
            assert_eq!(r.payload % 1000, r.key().0, "value of another key");
            r.key().0
        })
        .collect();
    assert_eq!(keys.len(), c.len(), "a pending entry was left behind");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), c.len(), "a key is held twice");
    assert!(c.len() <= c.capacity());
}

fn eq_panics_anywhere<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let panics = AtomicUsize::new(0);
    {
        let c = flaky_cache::<R>(10);
        let rounds = if cfg!(miri) { 8 } else { 60 };
        for countdown in 1..rounds {
            for op in 0..4_u64 {
                let key = Flaky((countdown as u64 * 7 + op) % 12);
                let value = ledger.value(key.0 + 1000 * countdown as u64);
                EQ_COUNTDOWN.with(|c| c.set(countdown % 9 + 1));
                let result = panic::catch_unwind(AssertUnwindSafe(|| match op {
                    0 | 1 => c.insert(key, value),
                    2 => drop((c.get(&key).map(|r| r.payload), value)),
                    _ => drop((c.remove(&key), value)),
                }));
                EQ_COUNTDOWN.with(|c| c.set(0));
                if result.is_err() {
                    panics.fetch_add(1, Ordering::Relaxed);
                }
                assert_consistent(&c);
            }
        }
        assert!(panics.load(Ordering::Relaxed) > 0, "the test made Eq panic");
    }
    assert_eq!(ledger.live(), 0, "every value dropped exactly once");
}

fn hash_panics_before_anything<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    {
        let c = flaky_cache::<R>(4);
        c.insert(Flaky(1), ledger.value(1));
        HASH_PANICS.with(|h| h.set(true));
        let value = ledger.value(2);
        assert!(panic::catch_unwind(AssertUnwindSafe(|| c.insert(Flaky(2), value))).is_err());
        assert!(panic::catch_unwind(AssertUnwindSafe(|| c.get(&Flaky(1)).is_some())).is_err());
        HASH_PANICS.with(|h| h.set(false));
        assert_eq!(c.get(&Flaky(1)).map(|r| r.payload), Some(1));
        assert_consistent(&c);
    }
    assert_eq!(ledger.live(), 0);
}

/// A value whose `Drop` panics (after counting itself).
struct Bomb(Arc<AtomicUsize>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        if !std::thread::panicking() {
            panic!("Drop panics");
        }
    }
}

fn value_drop_panics<R: Reclaimer>() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let n = 200;
    {
        let c: Cache<u64, Bomb, _, R> = Cache::builder()
            .capacity(16)
            .reclaimer::<R>()
            .build()
            .unwrap();
        for k in 0..n {
            // Replaces, evictions and removals all retire values that panic
            // when the reclaimer drops them: caught, and the memory freed.
            c.insert(k % 40, Bomb(Arc::clone(&dropped)));
            if k % 7 == 0 {
                c.remove(&(k % 40));
            }
        }
        c.clear();
        c.insert(1, Bomb(Arc::clone(&dropped)));
        assert!(c.get(&1).is_some());
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        n as usize + 1,
        "each value dropped once"
    );
}

/// A panic payload whose own `Drop` panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("payload drop panics");
        }
    }
}

fn listener_payload_panicking_on_drop<R: Reclaimer>() {
    // Found in review: the payload of a caught listener panic was dropped
    // outside the catch, so its panic escaped `retire` while the insert still
    // owned an entry already linked as pending: freed while linked, then freed
    // again by the cache's drop ("double free detected" before the fix).
    let ledger = Arc::new(DropLedger::default());
    {
        let c: Cache<u64, Counted, _, R> = Cache::builder()
            .capacity(2)
            .eviction_listener(|_: &u64, _: &Counted, _| std::panic::panic_any(PanicsOnDrop))
            .reclaimer::<R>()
            .build()
            .unwrap();
        for k in 0..20 {
            let value = ledger.value(k);
            let _ = panic::catch_unwind(AssertUnwindSafe(|| c.insert(k, value)));
            assert!(c.len() <= c.capacity());
            assert_eq!(c.iter().count(), c.len(), "no pending entry left behind");
        }
        assert_eq!(c.get(&19).map(|r| r.payload), Some(19));
    }
    assert_eq!(ledger.live(), 0, "every value dropped exactly once");
}

for_each_backend!(
    listener_payload_panicking_on_drop,
    eq_panics_anywhere,
    hash_panics_before_anything,
    value_drop_panics
);
