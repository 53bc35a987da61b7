//! Loom models of single flight (`get_or_insert_with`): its shard locks,
//! state locks and condition variables are loom's under `epoch_cache_loom`
//! (`src/sync.rs`), so loom explores every way callers can meet.
//!
//! Each model checks what its callers see (one initializer per key, the
//! value intact, no caller stuck) and, through `finish`, that every value
//! made is dropped exactly once. A flight takes three locks and a condition
//! variable besides the table's atomics, so these models run with one
//! preemption: two already take minutes per model.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use std::hash::{BuildHasher, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

use epoch_cache::{Cache, Crossbeam};
use epoch_cache_loom_tests::{cache, finish, key, model, wait_for, DropLog, Key, Value};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Two callers of one absent key: one initializer runs, both get its value.
#[test]
fn racing_callers_share_one_load() {
    model(1, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        let inits = Arc::new(AtomicUsize::new(0));
        let other = {
            let (cache, log, inits) = (Arc::clone(&cache), log.clone(), Arc::clone(&inits));
            thread::spawn(move || {
                let r = cache.get_or_insert_with(key(1), || {
                    inits.fetch_add(1, StdOrdering::Relaxed);
                    log.value(11)
                });
                r.read()
            })
        };
        let mine = cache
            .get_or_insert_with(key(1), || {
                inits.fetch_add(1, StdOrdering::Relaxed);
                log.value(10)
            })
            .read();
        let theirs = other.join().unwrap();
        assert_eq!(mine, theirs, "both callers see the one value loaded");
        assert_eq!(inits.load(StdOrdering::Relaxed), 1, "one initializer ran");
        finish(cache, &log);
    });
}

/// The leader's initializer panics: the panic reaches only the leader, and
/// the waiter (if it waited) loads the key itself.
#[test]
fn panicking_leader_hands_over() {
    quiet_expected_panics();
    model(1, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        let other = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || cache.get_or_insert_with(key(1), || log.value(11)).read())
        };
        let mine = catch_unwind(AssertUnwindSafe(|| {
            cache
                .get_or_insert_with(key(1), || panic!("initializer failed"))
                .read()
        }));
        assert_eq!(other.join().unwrap(), 11, "the waiter loaded for itself");
        if let Ok(seen) = mine {
            assert_eq!(seen, 11, "the caller that did not panic saw the value");
        }
        assert_eq!(cache.get(&key(1)).map(|r| r.read()), Some(11));
        finish(cache, &log);
    });
}

/// Keeps the initializer's own panic, expected in every interleaving, out of
/// the output; every other panic is reported as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info.payload().downcast_ref::<&str>() == Some(&"initializer failed");
            if !expected {
                report(info);
            }
        }));
    });
}

/// A waiter wakes after the leader inserted, and the leader goes on to
/// evict its own entry (capacity 1): the waiter looks the key up again and
/// loads it itself, or saw the leader's value before the eviction.
#[test]
fn waiter_woken_after_eviction_looks_up_again() {
    model(1, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        let waiter = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                let seen = cache.get_or_insert_with(key(1), || log.value(12)).read();
                assert!(seen == 10 || seen == 12, "saw {seen}");
            })
        };
        let seen = cache.get_or_insert_with(key(1), || log.value(10)).read();
        assert!(seen == 10 || seen == 12, "saw {seen}");
        cache.insert(key(2), log.value(20));
        waiter.join().unwrap();
        finish(cache, &log);
    });
}

/// Hashes a key to its id divided by ten: ids 1 and 2 collide.
#[derive(Clone, Copy, Default)]
struct Tens;

struct TensHasher(u64);

impl BuildHasher for Tens {
    type Hasher = TensHasher;
    fn build_hasher(&self) -> TensHasher {
        TensHasher(0)
    }
}

impl Hasher for TensHasher {
    fn finish(&self) -> u64 {
        self.0 / 10
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("keys hash with write_u64")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Two keys with equal hashes: flights are told apart by key equality. One
/// caller loads key 1 with an initializer that waits until the other
/// caller's load of key 2 has finished. Keyed by hash alone, key 2's caller
/// waited for key 1's flight, which waited for it: a deadlock.
#[test]
fn colliding_keys_have_flights_of_their_own() {
    model(1, || {
        let log = DropLog::new();
        let cache: Arc<Cache<Key, Value, Tens, Crossbeam>> = Arc::new(
            Cache::builder()
                .capacity(4)
                .hasher(Tens)
                .reclaimer::<Crossbeam>()
                .build()
                .unwrap(),
        );
        let two_loaded = Arc::new(AtomicBool::new(false));
        let other = {
            let (cache, log, two_loaded) =
                (Arc::clone(&cache), log.clone(), Arc::clone(&two_loaded));
            thread::spawn(move || {
                let two = cache.get_or_insert_with(key(2), || log.value(20)).read();
                // Release: pairs with the Acquire in `wait_for`.
                two_loaded.store(true, Ordering::Release);
                two
            })
        };
        let one = cache
            .get_or_insert_with(key(1), || {
                wait_for(&two_loaded);
                log.value(10)
            })
            .read();
        assert_eq!((one, other.join().unwrap()), (10, 20));
        cache.validate();
        drop(cache);
        log.assert_each_dropped_once();
    });
}
