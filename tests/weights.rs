//! Weighted capacity: the bound on total weight holds at every instant and
//! matches the entries once quiescent; room is made by eviction; oversized
//! entries and panicking weighers; bad configurations. Both backends.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{Counted, DropLedger, Rng, TestCache, SIZES};
use epoch_cache::{BuildError, Cache, Reclaimer, RemovalCause};

/// A value's weight is its payload's low byte, so sizes vary from 0 to 255.
fn weigh(_key: &u64, value: &Counted) -> u64 {
    value.payload & 0xFF
}

fn weighted<R: Reclaimer>(capacity: usize, max_weight: u64) -> TestCache<u64, Counted, R> {
    Cache::builder()
        .capacity(capacity)
        .max_weight(max_weight)
        .weigher(weigh)
        .reclaimer::<R>()
        .build()
        .expect("valid")
}

/// The weigher's sum over what the cache holds (with no TTL, every entry).
fn resident_weight<R: Reclaimer>(c: &TestCache<u64, Counted, R>) -> u64 {
    c.iter().map(|r| weigh(r.key(), r.value())).sum()
}

/// Random inserts (of random weights), gets, loads, removes and clears.
fn churn<R: Reclaimer>(c: &TestCache<u64, Counted, R>, ledger: &Arc<DropLedger>, seed: u64) {
    let mut rng = Rng(seed | 1);
    for _ in 0..SIZES.ops_per_thread {
        let key = rng.below(SIZES.keys);
        let payload = (key << 8) | rng.below(256);
        match rng.below(100) {
            0..=39 => {
                if let Some(r) = c.get(&key) {
                    r.assert_intact();
                    assert_eq!(r.payload >> 8, key, "a value of another key");
                }
            }
            40..=84 => c.insert(key, ledger.value(payload)),
            85..=89 => {
                let r = c.get_or_insert_with(key, || ledger.value(payload));
                r.assert_intact();
            }
            90..=98 => {
                c.remove(&key);
            }
            _ => {
                if rng.below(50) == 0 {
                    c.clear();
                }
            }
        }
    }
}

fn weight_never_exceeds_max_weight<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    // A weight bound that binds long before the count does: about 20 mean
    // entries of weight 127 in a cache of 256.
    let max = 2_500;
    let c: TestCache<u64, Counted, R> = weighted(SIZES.capacity, max);
    let done = AtomicBool::new(false);
    let samples = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let weight = c.weight();
                assert!(weight <= max, "weight {weight} > max_weight {max}");
                samples.fetch_add(1, Ordering::Relaxed);
                thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..SIZES.threads)
            .map(|t| {
                let (c, ledger) = (&c, &ledger);
                s.spawn(move || churn(c, ledger, 0x5EED + t as u64))
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(samples.load(Ordering::Relaxed) > 0, "the monitor sampled");
    assert_eq!(
        c.weight(),
        resident_weight(&c),
        "quiescent: weight is the sum"
    );
    assert!(c.weight() <= max);
    drop(c);
    assert_eq!(ledger.live(), 0, "every value dropped");
}

fn full_cache_holds_at_least_half<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    // Room for far more entries than the weight allows (weights 0..=255,
    // mean about 127: some 80 entries fit in 10,000).
    let max = 10_000;
    let c: TestCache<u64, Counted, R> = weighted(4_096, max);
    let mut rng = Rng(99);
    for key in 0..(SIZES.keys * 4) {
        c.insert(key, ledger.value((key << 8) | rng.below(256)));
        if key > 200 {
            assert!(
                c.weight() >= max / 2,
                "after key {key}: weight {}",
                c.weight()
            );
        }
        assert!(c.weight() <= max);
    }
    assert_eq!(c.weight(), resident_weight(&c));
}

fn replacement_accounts_for_old_and_new<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let c: TestCache<u64, Counted, R> = weighted(100, 100);
    c.insert(1, ledger.value((1 << 8) | 60));
    c.insert(2, ledger.value((2 << 8) | 40));
    assert_eq!(c.weight(), 100);
    // Same weight in a full cache: nothing else needs to go.
    c.insert(1, ledger.value((1 << 8) | 60));
    assert_eq!((c.weight(), c.len()), (100, 2));
    // Lighter: the difference is given back.
    c.insert(1, ledger.value((1 << 8) | 10));
    assert_eq!(c.weight(), 50);
    // Heavier, and still fits.
    c.insert(1, ledger.value((1 << 8) | 55));
    assert_eq!((c.weight(), c.len()), (95, 2));
    // Heavier than the room left: key 2 is evicted, not key 1.
    c.insert(1, ledger.value((1 << 8) | 90));
    assert_eq!((c.weight(), c.len()), (90, 1));
    assert_eq!(c.get(&1).map(|r| r.payload & 0xFF), Some(90));
    assert_eq!(c.weight(), resident_weight(&c));
}

/// Every way out of the cache gives the entry's weight back.
fn every_departure_gives_its_weight_back<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let c: TestCache<u64, Counted, R> = weighted(100, 10_000);
    for key in 0..20 {
        c.insert(key, ledger.value((key << 8) | key));
    }
    let total: u64 = (0..20).sum();
    assert_eq!(c.weight(), total);
    assert!(c.remove(&7).is_some());
    assert_eq!(c.weight(), total - 7);
    c.retain(|k, _| k % 2 == 0);
    assert_eq!(c.weight(), (0..20).filter(|k| k % 2 == 0).sum::<u64>());
    assert_eq!(c.weight(), resident_weight(&c));
    c.insert_with_ttl(
        100,
        ledger.value((100 << 8) | 50),
        std::time::Duration::from_millis(1),
    );
    thread::sleep(std::time::Duration::from_millis(5));
    c.purge_expired();
    assert_eq!(c.weight(), resident_weight(&c));
    c.clear();
    assert_eq!((c.len(), c.weight()), (0, 0));
}

/// Making room for a heavier value of a present key evicts another entry,
/// even one the policy would rather keep, never the key's own copy: the
/// old value leaves as `Replaced`. Over many pairs of keys, so that some
/// share their sets (eviction by the policy) and some do not (eviction
/// elsewhere).
fn replacing_never_evicts_its_own_key<R: Reclaimer>() {
    for (a, b) in (0..16).map(|i| (2 * i, 2 * i + 1)) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        let c: TestCache<u64, u64, R> = Cache::builder()
            .capacity(100)
            .max_weight(100)
            .weigher(|_: &u64, v: &u64| *v)
            .eviction_listener(move |k: &u64, v: &u64, cause| {
                seen.lock().unwrap().push((*k, *v, cause))
            })
            .reclaimer::<R>()
            .build()
            .unwrap();
        c.insert(a, 50); // a newcomer never read: the policy's first victim
        c.insert(b, 40);
        for _ in 0..4 {
            assert!(c.get(&b).is_some()); // key b is hot
        }
        c.insert(a, 70);
        assert_eq!(
            *log.lock().unwrap(),
            [
                (b, 40, RemovalCause::Evicted),
                (a, 50, RemovalCause::Replaced)
            ]
        );
        assert_eq!((c.weight(), c.get_cloned(&a)), (70, Some(70)));
    }
}

fn oversized_entries_go_to_the_listener<R: Reclaimer>() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    let c: TestCache<u64, u64, R> = Cache::builder()
        .capacity(100)
        .max_weight(50)
        .weigher(|_: &u64, v: &u64| *v)
        .eviction_listener(move |k: &u64, v: &u64, cause| {
            seen.lock().unwrap().push((*k, *v, cause))
        })
        .record_stats(true)
        .reclaimer::<R>()
        .build()
        .unwrap();
    c.insert(1, 20);
    c.insert(2, 30);
    c.insert(1, 51); // too heavy: never stored, and the old value goes
    assert!(!c.contains_key(&1));
    assert_eq!((c.weight(), c.len()), (30, 1));
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, 20, RemovalCause::Replaced),
            (1, 51, RemovalCause::Evicted)
        ]
    );
    // Loaded values are weighed too.
    let loaded = c.get_or_insert_with(3, || 500);
    assert_eq!(*loaded, 500, "the caller still gets its value");
    drop(loaded);
    assert!(!c.contains_key(&3));
    assert_eq!(
        log.lock().unwrap().last(),
        Some(&(3, 500, RemovalCause::Evicted))
    );
    let stats = c.stats();
    assert_eq!((stats.inserts, stats.evictions), (4, 2));
    // Exactly the bound fits.
    c.insert(4, 50);
    assert_eq!((c.weight(), c.len()), (50, 1));
    assert_eq!(
        log.lock().unwrap().last(),
        Some(&(2, 30, RemovalCause::Evicted))
    );
}

fn panicking_weigher_changes_nothing<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let c: TestCache<u64, Counted, R> = Cache::builder()
        .capacity(16)
        .max_weight(1_000)
        .weigher(|_: &u64, v: &Counted| {
            assert!(v.payload != 666, "weigher refuses 666");
            v.payload
        })
        .reclaimer::<R>()
        .build()
        .unwrap();
    c.insert(1, ledger.value(10));
    let panicked = catch_unwind(AssertUnwindSafe(|| c.insert(1, ledger.value(666))));
    assert!(panicked.is_err(), "the panic reaches the inserting caller");
    let panicked = catch_unwind(AssertUnwindSafe(|| c.pin().insert(2, ledger.value(666))));
    assert!(panicked.is_err());
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        drop(c.get_or_insert_with(3, || ledger.value(666)));
    }));
    assert!(panicked.is_err());
    assert_eq!(ledger.live(), 1, "the refused values were dropped");
    assert_eq!((c.len(), c.weight()), (1, 10), "the cache is unchanged");
    assert_eq!(c.get(&1).map(|r| r.payload), Some(10));
    // The failed load ended its flight: the key loads again.
    assert_eq!(c.get_or_insert_with(3, || ledger.value(20)).payload, 20);
    assert_eq!(c.weight(), 30);
}

fn zero_weight_counts_against_capacity_only<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = Cache::builder()
        .capacity(4)
        .max_weight(10)
        .weigher(|_: &u64, v: &u64| *v)
        .reclaimer::<R>()
        .build()
        .unwrap();
    for k in 0..10 {
        c.insert(k, 0);
    }
    assert_eq!((c.len(), c.weight()), (4, 0));
    c.insert(100, 10);
    assert_eq!((c.len(), c.weight()), (4, 10));
}

fn bad_configurations_are_refused() {
    let weigher = |_: &u64, _: &u64| 1;
    let cases = [
        (
            Cache::<u64, u64>::builder()
                .capacity(1)
                .max_weight(0)
                .weigher(weigher)
                .build(),
            BuildError::ZeroMaxWeight,
            "max weight must be at least 1",
        ),
        (
            Cache::builder().capacity(1).max_weight(5).build(),
            BuildError::MaxWeightWithoutWeigher,
            "max_weight was set without a weigher: call `Builder::weigher` too",
        ),
        (
            Cache::builder().capacity(1).weigher(weigher).build(),
            BuildError::WeigherWithoutMaxWeight,
            "a weigher was set without max_weight: call `Builder::max_weight` too",
        ),
    ];
    for (built, error, message) in cases {
        let err = built.unwrap_err();
        assert_eq!((err.clone(), err.to_string().as_str()), (error, message));
    }
    let plain: Cache<u64, u64> = Cache::new(5);
    assert_eq!((plain.weight(), plain.max_weight()), (0, None));
}

#[test]
fn bad_configurations() {
    bad_configurations_are_refused();
}

for_each_backend!(
    weight_never_exceeds_max_weight,
    full_cache_holds_at_least_half,
    replacement_accounts_for_old_and_new,
    every_departure_gives_its_weight_back,
    replacing_never_evicts_its_own_key,
    oversized_entries_go_to_the_listener,
    panicking_weigher_changes_nothing,
    zero_weight_counts_against_capacity_only,
);
