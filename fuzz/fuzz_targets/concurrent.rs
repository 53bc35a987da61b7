//! Concurrent: the operations split over 2 to 4 threads.
//!
//! Thread `t` of `n` is the only writer of the keys `k` with `k % n == t`, so
//! for those keys it can still check what `ops` checks: a get returns `None`
//! or the latest value it inserted, a key seen absent stays absent until it
//! inserts it again (evictions and other threads' `clear` only take keys
//! away), and a remove never removes a key it knows absent. For every key,
//! whoever wrote it, a get returns an intact value of that key, and `Ref`s
//! held across other threads' operations stay intact. `len() <= capacity()`
//! after every operation. After the threads join: `validate()`, `len` equals
//! the keys present, and once the cache is dropped every value was dropped
//! exactly once.
#![no_main]

use std::sync::{Arc, Barrier};

use arbitrary::Arbitrary;
use epoch_cache::Reclaimer;
use epoch_cache_fuzz::{build, with_backend, Backend, FuzzCache, FuzzHash, Ledger, Model};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    backend: Backend,
    hash: FuzzHash,
    threads: u8,
    /// Each operation goes to thread `thread % threads`.
    ops: Vec<(u8, Op)>,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Op {
    Insert(u8),
    Get(u8),
    Remove(u8),
    Clear,
    PinnedGet(u8),
    /// Keep a `Ref` across this thread's following operations.
    HoldRef(u8),
    ReleaseRefs,
}

const MAX_OPS_PER_THREAD: usize = 256;
const MAX_HELD: usize = 4;

fn run<R: Reclaimer>(input: &Input) {
    let threads = usize::from(input.threads % 3 + 2);
    let mut plans = vec![Vec::new(); threads];
    for &(thread, op) in &input.ops {
        let plan = &mut plans[usize::from(thread) % threads];
        if plan.len() < MAX_OPS_PER_THREAD {
            plan.push(op);
        }
    }
    let ledger = Arc::new(Ledger::default());
    {
        let cache = build::<R>(usize::from(input.capacity).max(1), input.hash);
        let start = Barrier::new(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = plans
                .iter()
                .enumerate()
                .map(|(t, plan)| {
                    let (cache, start, ledger) = (&cache, &start, &ledger);
                    scope.spawn(move || {
                        start.wait();
                        run_thread(cache, ledger, plan, t, threads);
                    })
                })
                .collect();
            // Join explicitly: the scope's implicit wait returns once the
            // closures finish, before the threads have run their thread-local
            // destructors, and libFuzzer's leak check would then see those
            // destructors' glibc bookkeeping as leaked.
            for worker in workers {
                if let Err(panic) = worker.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
        cache.validate();
        // Owned keys reach 255 + (threads - 1): see `own` below.
        let present = (0..=u16::from(u8::MAX) + 3)
            .filter(|key| cache.get(key).inspect(|r| r.assert_intact()).is_some())
            .count();
        assert_eq!(present, cache.len(), "len disagrees with the keys present");
    }
    ledger.assert_all_dropped();
}

fn run_thread<R: Reclaimer>(
    cache: &FuzzCache<R>,
    ledger: &Arc<Ledger>,
    plan: &[Op],
    t: usize,
    threads: usize,
) {
    let owned = |key: u16| usize::from(key) % threads == t;
    // The key this thread writes for a fuzzed key byte.
    let own = |key: u8| {
        let key = u16::from(key);
        key - key % threads as u16 + t as u16
    };
    let mut model = Model::default();
    let mut held = Vec::new();
    // Sequence numbers unique across threads.
    let mut seq = t as u64;
    for &op in plan {
        match op {
            Op::Insert(key) => {
                let key = own(key);
                seq += threads as u64;
                cache.insert(key, ledger.value(key, seq));
                model.inserted(key, seq);
            }
            Op::Get(key) | Op::PinnedGet(key) => {
                let key = u16::from(key);
                let pinned;
                let got = if matches!(op, Op::Get(_)) {
                    cache.get(&key).map(|r| {
                        r.assert_intact();
                        (*r.key(), r.key, r.seq)
                    })
                } else {
                    pinned = cache.pin();
                    pinned.get(&key).map(|v| {
                        v.assert_intact();
                        (v.key, v.key, v.seq)
                    })
                };
                if let Some((entry_key, value_key, _)) = got {
                    assert_eq!(
                        (entry_key, value_key),
                        (key, key),
                        "get({key}) returned another key's entry"
                    );
                }
                if owned(key) {
                    model.check_get(key, got.map(|(_, k, s)| (k, s)));
                }
            }
            Op::Remove(key) => {
                let key = own(key);
                let removed = cache.remove(&key).is_some();
                model.check_remove(key, removed);
                assert!(
                    cache.get(&key).is_none(),
                    "key {key} present after its only writer removed it"
                );
            }
            Op::Clear => {
                cache.clear();
                model.cleared();
            }
            Op::HoldRef(key) => {
                let key = u16::from(key);
                if held.len() < MAX_HELD {
                    if let Some(r) = cache.get(&key) {
                        r.assert_intact();
                        let seq = r.seq;
                        held.push((r, key, seq));
                    }
                }
            }
            Op::ReleaseRefs => {
                for (r, key, seq) in held.drain(..) {
                    r.assert_intact();
                    assert_eq!(
                        (*r.key(), r.key, r.seq),
                        (key, key, seq),
                        "a held Ref changed"
                    );
                }
            }
        }
        assert!(
            cache.len() <= cache.capacity(),
            "len {} > capacity {}",
            cache.len(),
            cache.capacity()
        );
    }
    for (r, key, seq) in held {
        r.assert_intact();
        assert_eq!(
            (*r.key(), r.key, r.seq),
            (key, key, seq),
            "a held Ref changed"
        );
    }
}

fuzz_target!(
    init: epoch_cache_fuzz::warm_up_thread_locals(),
    |input: Input| with_backend!(input.backend, run(&input))
);
