//! Single-threaded semantics: insert, replace, remove, Borrow lookups, bounds,
//! builder errors.

mod common;

use common::{cache, DropLedger, TestCache};
use epoch_cache::{BuildError, Cache, Reclaimer};
use std::sync::Arc;

fn insert_get_replace<R: Reclaimer>() {
    let c: TestCache<u64, String, R> = cache(100);
    assert!(c.is_empty());
    assert!(c.get(&1).is_none());
    c.insert(1, "a".into());
    assert_eq!(c.get(&1).as_deref().map(String::as_str), Some("a"));
    c.insert(1, "b".into());
    assert_eq!(c.get_cloned(&1).as_deref(), Some("b"));
    assert_eq!(c.len(), 1, "a replace does not add an entry");
    let r = c.get(&1).unwrap();
    assert_eq!((*r.key(), r.value().as_str(), r.as_str()), (1, "b", "b"));
}

fn remove_and_contains<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = cache(100);
    for k in 0..50 {
        c.insert(k, k * 10);
    }
    assert_eq!(c.len(), 50);
    for k in (0..50).step_by(2) {
        assert_eq!(c.remove(&k).map(|r| (*r.key(), *r)), Some((k, k * 10)));
        assert!(c.remove(&k).is_none(), "a second remove finds nothing");
    }
    for k in 0..50 {
        assert_eq!(c.contains_key(&k), k % 2 == 1, "key {k}");
        assert_eq!(c.get_cloned(&k), (k % 2 == 1).then_some(k * 10));
    }
    assert_eq!(c.len(), 25);
    c.clear();
    assert!(c.is_empty());
    assert!((0..50).all(|k| !c.contains_key(&k)));
}

fn borrowed_lookups<R: Reclaimer>() {
    let c: TestCache<String, Vec<u8>, R> = cache(10);
    c.insert("alpha".to_string(), vec![1]);
    assert_eq!(c.get("alpha").map(|r| r.clone()), Some(vec![1]));
    assert!(c.contains_key("alpha"));
    assert!(!c.contains_key("beta"));
    let pinned = c.pin();
    assert_eq!(pinned.get("alpha"), Some(&vec![1]));
    drop(pinned);
    assert_eq!(c.remove("alpha").as_deref(), Some(&vec![1]));
    assert!(c.get("alpha").is_none());
}

fn bounded_by_capacity<R: Reclaimer>() {
    for capacity in [1, 2, 3, 7, 64, 1000] {
        let c: TestCache<u64, u64, R> = cache(capacity);
        assert_eq!(c.capacity(), capacity);
        assert!(c.slots() >= capacity + capacity / 4);
        for k in 0..(capacity as u64 * 4 + 10) {
            c.insert(k, k);
            assert!(c.len() <= capacity, "len {} > capacity {capacity}", c.len());
            assert_eq!(c.get_cloned(&k), Some(k), "the newest key is present");
        }
        assert_eq!(c.len(), capacity, "a full cache stays full");
    }
}

fn working_set_that_fits_stays<R: Reclaimer>() {
    // 90% of the capacity, touched repeatedly: after the first pass at least
    // 99% hit. (All 900 stay in about 98% of hash seeds; over 2,000 random
    // seeds the fewest resident was 896.)
    let c: TestCache<u64, u64, R> = cache(1000);
    let keys: Vec<u64> = (0..900).map(|k| k * 7919).collect();
    for &k in &keys {
        c.insert(k, k);
    }
    let hits = keys.iter().filter(|k| c.get(k).is_some()).count();
    assert!(hits * 100 >= keys.len() * 99, "only {hits} of 900 stayed");
}

fn pinned_operations<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = cache(10);
    let pinned = c.pin();
    pinned.insert(1, 1);
    pinned.insert(2, 2);
    let one = pinned.get(&1).unwrap();
    assert_eq!(pinned.remove(&1), Some(&1));
    assert_eq!(
        *one, 1,
        "a borrowed value outlives its removal while pinned"
    );
    assert_eq!(pinned.get(&2), Some(&2));
}

fn every_value_dropped_once<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    {
        let c: TestCache<u64, common::Counted, R> = cache(8);
        for k in 0..100 {
            c.insert(k % 20, ledger.value(k));
        }
        c.remove(&3);
        c.clear();
        for k in 0..5 {
            c.insert(k, ledger.value(k));
        }
    }
    assert_eq!(ledger.live(), 0, "created {:?}", ledger.created);
}

fn builder_errors<R: Reclaimer>() {
    let build = |capacity| {
        Cache::<u64, u64>::builder()
            .capacity(capacity)
            .reclaimer::<R>()
            .build()
    };
    assert_eq!(build(0).unwrap_err(), BuildError::ZeroCapacity);
    assert!(matches!(
        build(usize::MAX).unwrap_err(),
        BuildError::CapacityTooLarge { .. }
    ));
    assert!(matches!(
        build(usize::MAX / 2).unwrap_err(),
        BuildError::CapacityTooLarge { .. }
    ));
    assert_eq!(
        Cache::<u64, u64>::builder()
            .reclaimer::<R>()
            .build()
            .unwrap_err(),
        BuildError::MissingCapacity
    );
    let msg = build(0).unwrap_err().to_string();
    assert!(msg.contains("at least 1"), "{msg}");
    assert!(build(1).is_ok());
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn new_with_zero_capacity_panics_clearly() {
    let _ = Cache::<u64, u64>::new(0);
}

for_each_backend!(
    insert_get_replace,
    remove_and_contains,
    borrowed_lookups,
    bounded_by_capacity,
    working_set_that_fits_stays,
    pinned_operations,
    every_value_dropped_once,
    builder_errors,
);
