//! Loom model of the weight reservation: two inserts race for room that
//! only one of them can have, and the weight counter never passes
//! `max_weight` in any interleaving.
//!
//! Run from `loom-tests/` with
//! `RUSTFLAGS="--cfg crossbeam_loom --cfg epoch_cache_loom --cfg fuzzing" cargo test --release`.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use epoch_cache::{Cache, Crossbeam};
use epoch_cache_loom_tests::{key, model, DropLog, IdentityHash, Key, LoomCache, Value};
use loom::sync::Arc;
use loom::thread;

/// A cache of two sets (every key probes both) where each entry weighs 6
/// against a bound of 10: one entry fits, never two.
fn heavy_cache() -> LoomCache {
    Cache::builder()
        .capacity(4)
        .max_weight(10)
        .weigher(|_: &Key, _: &Value| 6)
        .hasher(IdentityHash)
        .reclaimer::<Crossbeam>()
        .build()
        .expect("a small capacity builds")
}

/// Two inserts of different keys into a cache that holds a third: each must
/// evict to make room, and at every step the weight stays within the bound.
/// Once both are done, one entry is left and the counter matches it.
#[test]
fn two_inserts_racing_for_room() {
    model(2, || {
        let log = DropLog::new();
        let cache = Arc::new(heavy_cache());
        cache.insert(key(9), log.value(90));
        let other = {
            let cache = Arc::clone(&cache);
            let value = log.value(20);
            thread::spawn(move || {
                cache.insert(key(2), value);
                assert!(cache.weight() <= 10, "weight {} > 10", cache.weight());
            })
        };
        cache.insert(key(1), log.value(10));
        assert!(cache.weight() <= 10, "weight {} > 10", cache.weight());
        other.join().unwrap();
        cache.validate();
        assert_eq!((cache.len(), cache.weight()), (1, 6));
        drop(cache);
        log.assert_each_dropped_once();
    });
}
