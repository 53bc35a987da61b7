//! Loom model of the per-thread handles (`raw::per_thread`, the crossbeam
//! backend's `HandleCell`): a thread registers its handle on its first pin and
//! keeps it for every later pin; when it exits, its registry hands the slot
//! back (the handle is dropped and its garbage flushed) and a later thread
//! claims the slot. Under loom the registries are loom thread-locals and the
//! handle cell is a loom `UnsafeCell`, so a claim that is not ordered after
//! the previous holder's release is a reported race.
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use epoch_cache_loom_tests::{cache, finish, key, model, DropLog};
use loom::sync::Arc;
use loom::thread;

#[test]
fn exited_threads_hand_their_slots_to_new_ones() {
    model(1, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(4));
        let worker = |k: u64| {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                // Two pins through one handle: the insert, then the read.
                cache.insert(key(k), log.value(10 * k));
                if let Some(r) = cache.get(&key(k)) {
                    assert_eq!(r.read(), 10 * k);
                }
            })
        };
        // Whichever of the two starts pinning after the other exited may
        // claim the slot the other handed back.
        let (a, b) = (worker(1), worker(2));
        a.join().unwrap();
        b.join().unwrap();
        finish(cache, &log);
    });
}
