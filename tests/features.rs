//! Single flight, TTL, the eviction listener, stats, iteration and retain.

mod common;

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use common::{TestCache, SIZES};
use epoch_cache::{Cache, Reclaimer, RemovalCause};

fn builder<K, V, R: Reclaimer>(
    capacity: usize,
) -> epoch_cache::Builder<K, V, epoch_cache::DefaultHashBuilder, R> {
    Cache::builder().capacity(capacity).reclaimer::<R>()
}

fn single_flight_runs_init_once<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100).build().unwrap();
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(SIZES.threads);
    let seen: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..SIZES.threads)
            .map(|t| {
                let (c, calls, barrier) = (&c, &calls, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    *c.get_or_insert_with(7, || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(20)); // let the others arrive
                        100 + t as u64
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the initializer ran once");
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "all got the same value: {seen:?}"
    );
    assert_eq!(c.get_cloned(&7), Some(seen[0]));
}

fn panicking_init_reaches_only_its_caller<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100).build().unwrap();
    let leader_started = AtomicBool::new(false);
    thread::scope(|s| {
        let leader = s.spawn(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                c.get_or_insert_with(1, || {
                    leader_started.store(true, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(30));
                    panic!("initializer failed");
                })
            }))
            .is_err()
        });
        while !leader_started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        // This caller waits on the leader, then runs its own initializer.
        let v = *c.get_or_insert_with(1, || 42);
        assert_eq!(v, 42);
        assert!(
            leader.join().unwrap(),
            "the panic reached the leader's caller"
        );
    });
    assert_eq!(c.get_cloned(&1), Some(42));
    assert_eq!(c.len(), 1);
}

fn failed_try_init_inserts_nothing<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100).build().unwrap();
    assert_eq!(
        c.try_get_or_insert_with(1, || Err::<u64, _>("no"))
            .unwrap_err(),
        "no"
    );
    assert!(c.is_empty());
    assert_eq!(*c.try_get_or_insert_with(1, || Ok::<_, ()>(5)).unwrap(), 5);
    assert_eq!(
        *c.try_get_or_insert_with(1, || Err::<u64, _>(())).unwrap(),
        5,
        "present: init not called"
    );
}

fn init_may_use_other_keys<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100).build().unwrap();
    let v = *c.get_or_insert_with(1, || *c.get_or_insert_with(2, || 20) + 1);
    assert_eq!((v, c.get_cloned(&2)), (21, Some(20)));
}

fn reentry_on_same_key_panics<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100).build().unwrap();
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        c.get_or_insert_with(1, || *c.get_or_insert_with(1, || 0));
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| err.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("");
    assert!(msg.contains("inside its own initializer"), "{msg}");
    assert!(c.is_empty(), "no entry left behind");
    assert_eq!(
        *c.get_or_insert_with(1, || 3),
        3,
        "the key is usable afterwards"
    );
}

fn ttl_global_and_per_entry<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(100)
        .time_to_live(Duration::from_millis(40))
        .build()
        .unwrap();
    c.insert(1, 1); // the cache's 40 ms
    c.insert_with_ttl(2, 2, Duration::from_secs(60));
    c.insert_with_ttl(3, 3, Duration::from_millis(10));
    c.insert_with_ttl(4, 4, Duration::ZERO);
    assert_eq!(c.get_cloned(&4), None, "zero ttl: expired at once");
    assert!(c.contains_key(&1) && c.contains_key(&3));
    thread::sleep(Duration::from_millis(20));
    assert_eq!(c.get_cloned(&3), None);
    assert!(c.contains_key(&1));
    thread::sleep(Duration::from_millis(30));
    for k in [1, 3, 4] {
        assert!(c.get(&k).is_none(), "key {k} expired");
        assert!(
            c.remove(&k).is_none(),
            "key {k}: an expired key is not removed, it was gone"
        );
    }
    assert_eq!(c.get_cloned(&2), Some(2));
    assert_eq!(c.iter().count(), 1, "iteration skips expired entries");
}

fn expired_entries_leave_with_cause<R: Reclaimer>() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let c: TestCache<u64, u64, R> = builder(100)
        .eviction_listener(move |k: &u64, _: &u64, cause| sink.lock().unwrap().push((*k, cause)))
        .record_stats(true)
        .build()
        .unwrap();
    for k in 0..10 {
        c.insert_with_ttl(k, k, Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(15));
    assert_eq!(c.len(), 10, "expired but not yet unlinked");
    c.purge_expired();
    assert_eq!(c.len(), 0);
    let mut expired: Vec<u64> = log
        .lock()
        .unwrap()
        .iter()
        .map(|&(k, cause)| {
            assert_eq!(cause, RemovalCause::Expired);
            k
        })
        .collect();
    expired.sort();
    assert_eq!(expired, (0..10).collect::<Vec<_>>());
    assert_eq!(c.stats().expirations, 10);
    // A write to a set also sweeps its expired entries.
    c.insert_with_ttl(100, 0, Duration::from_millis(1));
    thread::sleep(Duration::from_millis(5));
    c.insert(100, 1);
    assert_eq!(
        log.lock().unwrap().last(),
        Some(&(100, RemovalCause::Expired))
    );
    assert_eq!(c.get_cloned(&100), Some(1));
}

fn listener_sees_each_departure_once<R: Reclaimer>() {
    // Each thread owns its keys (no same-key races), so every value is either
    // still cached at the end or reported exactly once.
    let reported = Arc::new(Mutex::new(HashSet::new()));
    let sink = Arc::clone(&reported);
    let c: TestCache<u64, u64, R> = builder(SIZES.capacity)
        .eviction_listener(move |_: &u64, v: &u64, _| {
            assert!(sink.lock().unwrap().insert(*v), "value {v} reported twice")
        })
        .build()
        .unwrap();
    let next_value = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..SIZES.threads as u64 {
            let (c, next_value) = (&c, &next_value);
            s.spawn(move || {
                let mut rng = common::Rng(t + 11);
                for _ in 0..SIZES.ops_per_thread / 4 {
                    let key =
                        t + SIZES.threads as u64 * rng.below(SIZES.keys / SIZES.threads as u64);
                    if rng.below(10) == 0 {
                        c.remove(&key);
                    } else {
                        c.insert(key, next_value.fetch_add(1, Ordering::Relaxed) as u64);
                    }
                }
            });
        }
    });
    let created = next_value.load(Ordering::Relaxed);
    let still_cached: HashSet<u64> = c.iter().map(|r| *r).collect();
    let gone = reported.lock().unwrap().clone();
    assert!(
        still_cached.is_disjoint(&gone),
        "a cached value was reported gone"
    );
    assert_eq!(
        still_cached.len() + gone.len(),
        created,
        "every value accounted for once"
    );
    c.clear();
    assert_eq!(
        reported.lock().unwrap().len(),
        created,
        "clear reports the rest"
    );
}

fn panicking_listener_corrupts_nothing<R: Reclaimer>() {
    let ledger = Arc::new(common::DropLedger::default());
    {
        let c: TestCache<u64, common::Counted, R> = builder(4)
            .eviction_listener(|_: &u64, _: &common::Counted, _| panic!("listener panics"))
            .build()
            .unwrap();
        for k in 0..50 {
            c.insert(k % 10, ledger.value(k));
        }
        c.remove(&1);
        c.clear();
        assert!(c.is_empty());
        c.insert(1, ledger.value(1));
        assert_eq!(c.get(&1).map(|r| r.payload), Some(1));
    }
    assert_eq!(
        ledger.live(),
        0,
        "every value dropped once despite the panics"
    );
}

fn stats_are_exact<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(4).record_stats(true).build().unwrap();
    for k in 0..6 {
        c.insert(k, k); // 6 inserts into capacity 4: 2 evictions
    }
    let hits = (0..6).filter(|k| c.get(k).is_some()).count() as u64;
    c.insert(100, 0);
    c.remove(&100);
    let s = c.stats();
    assert_eq!((s.hits, s.misses), (hits, 6 - hits));
    assert_eq!(
        (s.inserts, s.evictions, s.removals, s.expirations),
        (7, 3, 1, 0)
    );
    let off: TestCache<u64, u64, R> = builder(4).build().unwrap();
    off.insert(1, 1);
    off.get(&1);
    assert_eq!(off.stats(), Default::default(), "disabled: all zero");
    // Across threads: exact once they are joined.
    let c: TestCache<u64, u64, R> = builder(1024).record_stats(true).build().unwrap();
    thread::scope(|s| {
        for t in 0..SIZES.threads as u64 {
            let c = &c;
            s.spawn(move || {
                for k in 0..500 {
                    c.insert(t * 1000 + k, k);
                    c.get(&(t * 1000 + k));
                    c.get(&u64::MAX);
                }
            });
        }
    });
    let s = c.stats();
    let n = SIZES.threads as u64 * 500;
    assert_eq!((s.inserts, s.hits + s.misses), (n, 2 * n));
    assert!(s.misses >= n);
}

fn iteration_sees_stable_entries_once<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = builder(4096).build().unwrap();
    let stable: Vec<u64> = (0..1000).collect();
    for &k in &stable {
        c.insert(k, k);
    }
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            // Churn other keys (below capacity: nothing stable is evicted).
            let mut k = 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                c.insert(k, k);
                c.remove(&(k - 5));
                k += 1;
                if k > 1_000_500 {
                    k = 1_000_000;
                }
            }
        });
        for _ in 0..if cfg!(miri) { 1 } else { 20 } {
            let mut seen = HashSet::new();
            for r in c.iter() {
                assert!(seen.insert(*r.key()), "key {} seen twice", r.key());
            }
            assert!(
                stable.iter().all(|k| seen.contains(k)),
                "a stable entry was missed"
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
}

fn retain_removes_what_it_rejects<R: Reclaimer>() {
    let log = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&log);
    let c: TestCache<u64, u64, R> = builder(1000)
        .eviction_listener(move |_: &u64, _: &u64, cause| {
            assert_eq!(cause, RemovalCause::Removed);
            sink.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    (0..300).for_each(|k| c.insert(k, k));
    c.retain(|k, _| k % 3 == 0);
    assert_eq!(c.len(), 100);
    assert_eq!(log.load(Ordering::SeqCst), 200);
    assert!(c.iter().all(|r| r.key() % 3 == 0));
}

#[test]
fn zero_ttl_is_refused_by_the_builder() {
    let err = Cache::<u64, u64>::builder()
        .capacity(1)
        .time_to_live(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err, epoch_cache::BuildError::ZeroTimeToLive);
    let forever: Cache<u64, u64> = Cache::builder()
        .capacity(1)
        .time_to_live(Duration::MAX)
        .build()
        .unwrap();
    forever.insert(1, 1);
    assert!(forever.contains_key(&1), "an absurd ttl never expires");
}

for_each_backend!(
    single_flight_runs_init_once,
    panicking_init_reaches_only_its_caller,
    failed_try_init_inserts_nothing,
    init_may_use_other_keys,
    reentry_on_same_key_panics,
    ttl_global_and_per_entry,
    expired_entries_leave_with_cause,
    listener_sees_each_departure_once,
    panicking_listener_corrupts_nothing,
    stats_are_exact,
    iteration_sees_stable_entries_once,
    retain_removes_what_it_rejects,
);
