//! Loom model of `Iter`'s pins: each `next()` pins, loads a slot and hands
//! out what that pin loaded inside a `Ref` that keeps the pin, so a `Ref`
//! kept across later `next()` calls must still protect its entry while
//! another thread removes and replaces entries.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use epoch_cache_loom_tests::{cache, finish, key, model, DropLog};
use loom::sync::Arc;
use loom::thread;

#[test]
fn iter_refs_outlive_next() {
    model(3, || {
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
        // Moving on pins and unpins again for every slot; `first` must stay
        // readable through its own pin.
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
