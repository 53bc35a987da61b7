//! Threads that come and go: the garbage of a thread that exits is reclaimed,
//! and a cache works from a thread-local destructor, on both backends.
//!
//! Each test reproduces a bug of the code before its fix (numbers from that
//! code, one run on a 2-CPU machine):
//! - 1,000 short-lived threads, each inserting 40 keys into a cache of 8,
//!   left 29,602 values alive with the crossbeam backend (every exited
//!   thread's local bag of deferred drops, never flushed); seize left 8.
//! - A `get` or `insert` from a thread-local destructor aborted the process
//!   (the thread-local tables behind the handles and the statistics were
//!   gone, and a panic in a thread-local destructor aborts), on both
//!   backends.

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::thread;

use common::{Counted, DropLedger, TestCache};
use epoch_cache::{Cache, Reclaimer};

/// Sizes for this file: small under Miri.
struct Sizes {
    /// Short-lived threads, one after another.
    threads: usize,
    /// Keys each of them inserts.
    inserts_per_thread: u64,
    /// Operations the main thread makes afterwards, to drive reclamation.
    main_ops: u64,
}

#[cfg(not(miri))]
const SIZES: Sizes = Sizes {
    threads: 1_000,
    inserts_per_thread: 40,
    main_ops: 300,
};

#[cfg(miri)]
const SIZES: Sizes = Sizes {
    threads: 6,
    inserts_per_thread: 40,
    main_ops: 300,
};

const CAPACITY: usize = 8;

/// The most values that may stay alive once the threads are gone and the
/// main thread has made `main_ops` operations: the resident entries plus the
/// garbage the main thread's own pins have not yet reclaimed (crossbeam
/// frees a thread's garbage in bags of up to 64, two epochs later).
const LIVE_BOUND: usize = CAPACITY + 256;

fn exited_threads_leave_no_garbage<R: Reclaimer>() {
    let ledger = Arc::new(DropLedger::default());
    let c: Arc<TestCache<u64, Counted, R>> = Arc::new(common::cache(CAPACITY));
    for t in 0..SIZES.threads {
        let (c, ledger) = (Arc::clone(&c), Arc::clone(&ledger));
        // Stacks of varying sizes, so that thread-local storage lands at
        // varying addresses (the old code then also leaked handles).
        thread::Builder::new()
            .stack_size(64 * 1024 + (t % 16) * 16 * 1024)
            .spawn(move || {
                let first = t as u64 * SIZES.inserts_per_thread;
                for k in first..first + SIZES.inserts_per_thread {
                    c.insert(k, ledger.value(k));
                }
            })
            .expect("spawn")
            .join()
            .expect("the thread finished");
    }
    for k in 0..SIZES.main_ops {
        let key = u64::MAX - k % 16;
        if c.get(&key).is_none() {
            c.insert(key, ledger.value(key));
        }
    }
    let live = ledger.live();
    assert!(
        live <= LIVE_BOUND,
        "{live} values alive after {} exited threads (bound {LIVE_BOUND})",
        SIZES.threads
    );
    drop(c);
    assert_eq!(ledger.live(), 0, "every value dropped with the cache");
}

/// Runs a closure from a thread-local destructor of the current thread.
struct OnThreadExit(Cell<Option<Box<dyn FnOnce()>>>);

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        if let Some(run) = self.0.take() {
            run();
        }
    }
}

thread_local! {
    static ON_EXIT: OnThreadExit = const { OnThreadExit(Cell::new(None)) };
}

/// When the thread first uses the cache, relative to setting the
/// thread-local value whose destructor uses it. Destructors run in reverse
/// order of registration on the platforms std supports, so with
/// `AfterTheValue` the user's destructor runs after the crate's own
/// thread-locals are gone.
#[derive(Clone, Copy, Debug)]
enum FirstUse {
    AfterTheValue,
    BeforeTheValue,
    /// Only the destructor uses the cache.
    Never,
}

fn cache_in_a_thread_local_destructor<R: Reclaimer>(first_use: FirstUse, record_stats: bool) {
    let built = Cache::builder()
        .capacity(64)
        .record_stats(record_stats)
        .reclaimer::<R>()
        .build();
    let c: Arc<TestCache<u64, u64, R>> = Arc::new(built.expect("valid capacity"));
    c.insert(1, 10);
    let worker = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let use_cache = || assert_eq!(c.get_cloned(&1), Some(10));
            let set_value = || {
                let c = Arc::clone(&c);
                ON_EXIT.with(|slot| {
                    slot.0.set(Some(Box::new(move || {
                        assert_eq!(c.get_cloned(&1), Some(10));
                        c.insert(2, 20);
                        assert!(c.remove(&1).is_some());
                        c.insert(3, 30);
                        assert_eq!(c.get_cloned(&3), Some(30));
                    })))
                });
            };
            match first_use {
                FirstUse::AfterTheValue => {
                    set_value();
                    use_cache();
                }
                FirstUse::BeforeTheValue => {
                    use_cache();
                    set_value();
                }
                FirstUse::Never => set_value(),
            }
        })
    };
    let case = format!("{first_use:?}, stats {record_stats}");
    assert!(worker.join().is_ok(), "{case}: the thread did not panic");
    assert_eq!(c.get_cloned(&2), Some(20), "{case}: the insert took effect");
    assert_eq!(c.get_cloned(&3), Some(30), "{case}");
    assert_eq!(c.get_cloned(&1), None, "{case}: the remove took effect");
    if record_stats {
        // No operation is lost, wherever it was counted: the worker's own
        // lookup, the destructor's two, the main thread's three here.
        let worker_hits = if matches!(first_use, FirstUse::Never) {
            0
        } else {
            1
        };
        let s = c.stats();
        assert_eq!((s.hits, s.misses), (worker_hits + 4, 1), "{case}: {s:?}");
        assert_eq!((s.inserts, s.removals), (3, 1), "{case}: {s:?}");
    }
}

fn destructor_after_the_first_use<R: Reclaimer>() {
    cache_in_a_thread_local_destructor::<R>(FirstUse::AfterTheValue, true);
}

fn destructor_before_the_first_use<R: Reclaimer>() {
    cache_in_a_thread_local_destructor::<R>(FirstUse::BeforeTheValue, true);
}

fn destructor_the_only_use<R: Reclaimer>() {
    cache_in_a_thread_local_destructor::<R>(FirstUse::Never, true);
}

/// Without statistics, so that the reclaimer alone is at stake.
fn destructor_after_the_first_use_without_stats<R: Reclaimer>() {
    cache_in_a_thread_local_destructor::<R>(FirstUse::AfterTheValue, false);
}

for_each_backend!(
    exited_threads_leave_no_garbage,
    destructor_after_the_first_use,
    destructor_before_the_first_use,
    destructor_the_only_use,
    destructor_after_the_first_use_without_stats,
);
