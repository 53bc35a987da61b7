//! Loom models of the real table protocol: each drives `epoch_cache::Cache`
//! from two or three loom threads on a two-set table and checks, in every
//! interleaving loom explores, what a caller could observe.
//!
//! Run from `loom-tests/` with
//! `RUSTFLAGS="--cfg crossbeam_loom --cfg epoch_cache_loom --cfg fuzzing" cargo test --release`;
//! each model sets its own preemption bound (3 where it fits, else 2).
#![cfg(all(epoch_cache_loom, crossbeam_loom))]

use epoch_cache_loom_tests::{cache, finish, key, model, spawn_reader, wait_for, DropLog};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// A reader looks a key up while another thread replaces its value: it sees
/// the old or the new value, intact, and never a missing key.
///
/// The replacing thread pins first and makes its key and value after: then
/// only the publishing CAS can order their initialisation before the reader
/// (with `Cache::insert` the pin's own SeqCst fence would do it, hiding a
/// relaxed publish). It is a fresh thread: with the main thread, whose
/// handle is registered by its earlier insert, as the replacer, loom no
/// longer reported the `relaxed_publish` mutant once handles became
/// per-thread under loom; a fresh thread does.
#[test]
fn get_racing_replace() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        cache.insert(key(1), log.value(10));
        let replacer = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                let pinned = cache.pin();
                pinned.insert(key(1), log.value(11));
            })
        };
        let seen = cache
            .get(&key(1))
            .expect("a replace never hides the key")
            .read();
        assert!(seen == 10 || seen == 11, "saw {seen}");
        replacer.join().unwrap();
        assert_eq!(cache.get(&key(1)).map(|r| r.read()), Some(11));
        assert_eq!(cache.len(), 1);
        finish(cache, &log);
    });
}

/// A reader looks a key up while another thread removes it: it sees the
/// value intact, or nothing.
#[test]
fn get_racing_remove() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        cache.insert(key(1), log.value(10));
        let reader = spawn_reader(&cache, 1, 10);
        assert!(cache.remove(&key(1)).is_some());
        reader.join().unwrap();
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(cache.len(), 0);
        finish(cache, &log);
    });
}

/// A reader looks a key up while an insert into the full cache evicts it.
#[test]
fn get_racing_eviction() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        cache.insert(key(1), log.value(10));
        let reader = spawn_reader(&cache, 1, 10);
        cache.insert(key(2), log.value(20));
        reader.join().unwrap();
        assert!(cache.get(&key(1)).is_none(), "the only victim was evicted");
        assert_eq!(cache.get(&key(2)).map(|r| r.read()), Some(20));
        assert_eq!(cache.len(), 1);
        finish(cache, &log);
    });
}

/// Two inserts of the same new key: one copy lands, never two, and the
/// loser's value is dropped exactly once.
///
/// Both pin before making their key, so each one's settling scan reads the
/// other's pending key ordered only by the CAS that linked it.
#[test]
fn two_inserts_of_same_new_key() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        let other = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                let pinned = cache.pin();
                pinned.insert(key(1), log.value(11));
            })
        };
        let pinned = cache.pin();
        pinned.insert(key(1), log.value(10));
        drop(pinned);
        other.join().unwrap();
        cache.validate();
        assert_eq!(cache.len(), 1, "one copy of the key");
        let seen = cache.get(&key(1)).expect("one insert landed").read();
        assert!(seen == 10 || seen == 11, "saw {seen}");
        assert!(cache.remove(&key(1)).is_some());
        assert!(
            cache.get(&key(1)).is_none(),
            "no second copy behind the first"
        );
        assert_eq!(cache.len(), 0);
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// Two inserts of the same new key into a full cache: both must evict, and
/// still only one copy of the key lands.
#[test]
fn two_inserts_of_same_new_key_at_capacity() {
    model(2, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        cache.insert(key(9), log.value(90));
        let other = {
            let cache = Arc::clone(&cache);
            let value = log.value(11);
            thread::spawn(move || cache.insert(key(1), value))
        };
        cache.insert(key(1), log.value(10));
        other.join().unwrap();
        cache.validate();
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(9)).is_none());
        let seen = cache.get(&key(1)).expect("one insert landed").read();
        assert!(seen == 10 || seen == 11, "saw {seen}");
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// Insert racing remove of a key that is absent: either the remove missed the
/// insert (and the key stays) or it removed the new value (and it is gone).
#[test]
fn insert_racing_remove_of_absent_key() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        let inserter = {
            let cache = Arc::clone(&cache);
            let value = log.value(10);
            thread::spawn(move || cache.insert(key(1), value))
        };
        let removed = cache.remove(&key(1)).is_some();
        inserter.join().unwrap();
        cache.validate();
        let after = cache.get(&key(1)).map(|r| r.read());
        assert_eq!(
            after,
            if removed { None } else { Some(10) },
            "removed: {removed}"
        );
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// Insert racing remove of a key that is present: the remove always takes a
/// value (the old or the new), and the old value never comes back.
#[test]
fn insert_racing_remove_of_present_key() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        cache.insert(key(1), log.value(10));
        let inserter = {
            let (cache, log) = (Arc::clone(&cache), log.clone());
            thread::spawn(move || {
                let pinned = cache.pin();
                pinned.insert(key(1), log.value(11));
            })
        };
        assert!(
            cache.remove(&key(1)).is_some(),
            "some value of the key was visible throughout"
        );
        inserter.join().unwrap();
        cache.validate();
        let after = cache.get(&key(1)).map(|r| r.read());
        assert!(after.is_none() || after == Some(11), "saw {after:?}");
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// Two inserts into a full cache pick the same victim: it is unlinked and
/// retired by exactly one of them.
#[test]
fn two_evictions_of_same_victim() {
    model(2, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        cache.insert(key(1), log.value(10));
        let other = {
            let cache = Arc::clone(&cache);
            let value = log.value(20);
            thread::spawn(move || {
                cache.insert(key(2), value);
                assert!(cache.len() <= 1);
            })
        };
        cache.insert(key(3), log.value(30));
        assert!(cache.len() <= 1);
        other.join().unwrap();
        cache.validate();
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(1)).is_none());
        assert!(log.drops_of(10) <= 1, "the victim was dropped twice");
        let present = [2, 3].map(|k| cache.get(&key(k)).map(|r| r.read()));
        assert_eq!(present.iter().flatten().count(), 1, "{present:?}");
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// Concurrent inserts of new keys at capacity, watched by a third thread:
/// `len()` never exceeds `capacity()` at any point of any interleaving.
#[test]
fn inserts_at_capacity_keep_len_bounded() {
    model(2, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(2));
        cache.insert(key(1), log.value(10));
        let inserters: Vec<_> = [2, 3]
            .into_iter()
            .map(|id| {
                let cache = Arc::clone(&cache);
                let value = log.value(id * 10);
                thread::spawn(move || {
                    cache.insert(key(id), value);
                    assert!(cache.len() <= cache.capacity(), "len {}", cache.len());
                })
            })
            .collect();
        for _ in 0..2 {
            assert!(cache.len() <= cache.capacity(), "len {}", cache.len());
        }
        for inserter in inserters {
            inserter.join().unwrap();
        }
        cache.validate();
        assert_eq!(cache.len(), 2);
        drop(cache);
        log.assert_each_dropped_once();
    });
}

/// A reader holds a `Ref` while its entry is evicted (and its evictor evicted
/// in turn): the value stays readable and intact until the `Ref` is dropped,
/// and is dropped exactly once afterwards.
#[test]
fn reader_holds_ref_across_eviction() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        cache.insert(key(1), log.value(10));
        let got_ref = Arc::new(AtomicBool::new(false));
        let evicted = Arc::new(AtomicBool::new(false));
        let reader = {
            let (cache, got_ref, evicted) = (
                Arc::clone(&cache),
                Arc::clone(&got_ref),
                Arc::clone(&evicted),
            );
            thread::spawn(move || {
                let r = cache.get(&key(1)).expect("nothing evicts before got_ref");
                assert_eq!(r.read(), 10);
                // Release: pairs with the evictor's Acquire in `wait_for`.
                got_ref.store(true, Ordering::Release);
                wait_for(&evicted);
                assert_eq!(r.read(), 10, "a held Ref outlives the eviction");
            })
        };
        wait_for(&got_ref);
        cache.insert(key(2), log.value(20));
        cache.insert(key(3), log.value(30));
        // Release: pairs with the reader's Acquire in `wait_for`.
        evicted.store(true, Ordering::Release);
        reader.join().unwrap();
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(cache.get(&key(3)).map(|r| r.read()), Some(30));
        finish(cache, &log);
    });
}

/// The same through `Cache::pin`: a borrowed value outlives its removal and
/// the replacement of its key while the pin lives.
#[test]
fn pinned_borrow_across_remove_and_reinsert() {
    model(3, || {
        let log = DropLog::new();
        let cache = Arc::new(cache(1));
        cache.insert(key(1), log.value(10));
        let got_ref = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (cache, got_ref, done) =
                (Arc::clone(&cache), Arc::clone(&got_ref), Arc::clone(&done));
            thread::spawn(move || {
                let pinned = cache.pin();
                let value = pinned.get(&key(1)).expect("present until got_ref");
                // Release: pairs with the writer's Acquire in `wait_for`.
                got_ref.store(true, Ordering::Release);
                wait_for(&done);
                assert_eq!(value.read(), 10);
            })
        };
        wait_for(&got_ref);
        assert!(cache.remove(&key(1)).is_some());
        cache.insert(key(1), log.value(11));
        // Release: pairs with the reader's Acquire in `wait_for`.
        done.store(true, Ordering::Release);
        reader.join().unwrap();
        assert_eq!(cache.get(&key(1)).map(|r| r.read()), Some(11));
        finish(cache, &log);
    });
}
