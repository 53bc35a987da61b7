//! Loom model of `Iter`'s nested pins: the iterator holds a pin for the set
//! it hands out, and each `Ref` it returns pins again, so a `Ref` kept across
//! `next()` (which drops the set's pin) must still protect its entry while
//! another thread removes and replaces entries.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use epoch_cache_loom_tests::{cache, finish, key, model, DropLog};
use loom::sync::Arc;
use loom::thread;

#[test]
fn iter_refs_outlive_the_sets_pin() {
    model(1, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(4));
        cache.insert(key(1), log.value(10));
        cache.insert(key(2), log.value(20));
        let writer = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                cache.remove(&key(1));
                cache.insert(key(2), log.value(21));
            })
        };
        let mut iter = cache.iter();
        let first = iter.next();
        // Moving on drops the first set's pin once that set is exhausted;
        // `first` must stay readable through its own.
        let rest: Vec<_> = iter.collect();
        for r in first.iter().chain(rest.iter()) {
            let (k, v) = (r.key().id(), r.read());
            assert!(
                matches!((k, v), (1, 10) | (2, 20) | (2, 21)),
                "saw {k} -> {v}"
            );
        }
        drop((first, rest));
        writer.join().unwrap();
        finish(cache, &log);
    });
}
