//! Garbage stays bounded whatever user code does meanwhile.
//!
//! One thread churns `CHURN` fresh keys through a cache of `CAPACITY` entries
//! while other threads sit inside user code that the crate called: a slow
//! initializer, a slow eviction listener, waiters of a slow single flight,
//! threads that read once and then block. The crate holds no pin across any
//! of it, so the values evicted meanwhile are reclaimed as the churn goes on:
//! the peak of live values (created minus dropped, sampled after every
//! insert) stays under `BOUND`.
//!
//! Before the crate stopped pinning across user code, each of the first three
//! peaked near `CHURN` (every evicted value waited for the user code to end).
#![cfg(not(miri))]

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{Counted, DropLedger, TestCache};
use epoch_cache::{Cache, Reclaimer};

const CAPACITY: usize = 1_000;
const CHURN: u64 = 300_000;
/// The most values alive at once: the resident entries plus garbage that
/// awaits reclamation, which the churn alone keeps to a few hundred.
const BOUND: usize = 2 * CAPACITY;

/// Where the churned keys start, clear of the keys the scenarios use.
const CHURN_BASE: u64 = 1 << 32;

/// Inserts `CHURN` fresh keys; returns the peak of live values seen.
fn churn<R: Reclaimer>(cache: &TestCache<u64, Counted, R>, ledger: &Arc<DropLedger>) -> usize {
    let mut peak = 0;
    for i in 0..CHURN {
        cache.insert(CHURN_BASE + i, ledger.value(i));
        peak = peak.max(ledger.live());
    }
    peak
}

fn cache<R: Reclaimer>() -> TestCache<u64, Counted, R> {
    common::cache(CAPACITY)
}

/// Waits until `flag` is set, sleeping: the user code that outlasts the churn.
fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(1));
    }
}

fn assert_bounded(peak: usize, what: &str) {
    eprintln!("{what}: peak {peak} live values");
    assert!(
        peak <= BOUND,
        "{what}: {peak} values alive at the peak, above {BOUND} (capacity {CAPACITY}, churn {CHURN})"
    );
}

fn slow_initializer<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let cache = cache::<R>();
    let (started, done) = (AtomicBool::new(false), AtomicBool::new(false));
    let peak = thread::scope(|s| {
        s.spawn(|| {
            let value = cache.get_or_insert_with(1, || {
                started.store(true, Ordering::SeqCst);
                wait_for(&done);
                ledger.value(1)
            });
            value.assert_intact();
        });
        wait_for(&started);
        let peak = churn(&cache, &ledger);
        done.store(true, Ordering::SeqCst);
        peak
    });
    assert_bounded(peak, "while an initializer ran");
}

fn slow_listener<R: Reclaimer>() {
    thread_local! {
        /// Set on the thread whose listener call is slow.
        static SLOW: Cell<bool> = const { Cell::new(false) };
    }
    let done = Arc::new(AtomicBool::new(false));
    let in_listener = Arc::new(AtomicBool::new(false));
    let (done_in, in_listener_in) = (Arc::clone(&done), Arc::clone(&in_listener));
    let ledger = Arc::new(DropLedger::default());
    let cache: TestCache<u64, Counted, R> = Cache::builder()
        .capacity(CAPACITY)
        .reclaimer::<R>()
        .eviction_listener(move |_: &u64, value: &Counted, _| {
            value.assert_intact();
            if SLOW.with(Cell::get) {
                in_listener_in.store(true, Ordering::SeqCst);
                wait_for(&done_in);
            }
        })
        .build()
        .unwrap();
    for k in 0..CAPACITY as u64 {
        cache.insert(k, ledger.value(k));
    }
    let peak = thread::scope(|s| {
        s.spawn(|| {
            SLOW.with(|slow| slow.set(true));
            // Insert until one evicts (the cache is about full): its listener
            // call waits for the churn to end.
            for k in (0..CHURN_BASE).rev() {
                cache.insert(k, ledger.value(k));
                if in_listener.load(Ordering::SeqCst) {
                    break;
                }
            }
        });
        wait_for(&in_listener);
        let peak = churn(&cache, &ledger);
        done.store(true, Ordering::SeqCst);
        peak
    });
    assert_bounded(peak, "while a listener ran");
}

fn blocked_waiters<R: Reclaimer>() {
    const WAITERS: usize = 8;
    let ledger = Arc::new(DropLedger::default());
    let cache = cache::<R>();
    let (started, done) = (AtomicBool::new(false), AtomicBool::new(false));
    let arrived = AtomicUsize::new(0);
    let peak = thread::scope(|s| {
        s.spawn(|| {
            let v = cache.get_or_insert_with(1, || {
                started.store(true, Ordering::SeqCst);
                wait_for(&done);
                ledger.value(1)
            });
            v.assert_intact();
        });
        wait_for(&started);
        for _ in 0..WAITERS {
            s.spawn(|| {
                arrived.fetch_add(1, Ordering::SeqCst);
                let v = cache.get_or_insert_with(1, || ledger.value(2));
                v.assert_intact();
            });
        }
        while arrived.load(Ordering::SeqCst) < WAITERS {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(20)); // let them reach the flight
        let peak = churn(&cache, &ledger);
        done.store(true, Ordering::SeqCst);
        peak
    });
    assert_bounded(peak, "while eight waiters waited");
}

fn idle_readers<R: Reclaimer>() {
    const READERS: usize = 8;
    let ledger = Arc::new(DropLedger::default());
    let cache = cache::<R>();
    cache.insert(1, ledger.value(1));
    let read = Barrier::new(READERS + 1);
    let done = AtomicBool::new(false);
    let peak = thread::scope(|s| {
        for _ in 0..READERS {
            s.spawn(|| {
                if let Some(v) = cache.get(&1) {
                    v.assert_intact();
                }
                read.wait();
                wait_for(&done);
            });
        }
        read.wait();
        let peak = churn(&cache, &ledger);
        done.store(true, Ordering::SeqCst);
        peak
    });
    assert_bounded(peak, "while eight threads that read once sat idle");
}

/// Two threads churn at once (insert-100 on two threads), `TWO_CHURN` fresh
/// keys each: retired entries are reclaimed as they go, by whichever thread
/// collects. Here the bound is looser than `BOUND`: while one writer is
/// descheduled inside an insert (pinned), the other's garbage waits for it,
/// so the peak is what one writer inserts in a scheduler time slice (tens of
/// thousands of entries when the two threads share one CPU), whatever the
/// capacity. It must not grow with the churn: a quarter of it is the bound.
/// The peak of garbage (live values beyond the capacity) is printed.
fn two_writers<R: Reclaimer>() {
    const TWO_CHURN: u64 = 1_000_000;
    let ledger = Arc::new(DropLedger::default());
    let cache = cache::<R>();
    let peaks: Vec<usize> = thread::scope(|s| {
        let writers: Vec<_> = (0..2_u64)
            .map(|t| {
                let (cache, ledger) = (&cache, &ledger);
                s.spawn(move || {
                    let mut peak = 0;
                    for i in 0..TWO_CHURN {
                        let key = CHURN_BASE + (t << 24) + i;
                        cache.insert(key, ledger.value(key));
                        peak = peak.max(ledger.live());
                    }
                    peak
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let peak = peaks.into_iter().max().unwrap();
    let garbage = peak.saturating_sub(CAPACITY);
    eprintln!("two writers: peak garbage {garbage} values over a capacity of {CAPACITY}");
    assert!(
        garbage <= (2 * TWO_CHURN / 4) as usize,
        "two writers: {garbage} values awaited reclamation at the peak, a quarter or more of \
         the {} inserted",
        2 * TWO_CHURN
    );
}

for_each_backend!(
    slow_initializer,
    slow_listener,
    blocked_waiters,
    idle_readers,
    two_writers
);
