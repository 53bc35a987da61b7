//! Differential: arbitrary operation sequences against the cache and a model.
//!
//! After every operation: a get returns `None` or the latest value inserted
//! for its key (and a key once seen absent stays absent until re-inserted); a
//! removed key is absent; `len() <= capacity()` (and `weight() <=
//! max_weight` for a weighted cache); `validate()` holds, which checks the
//! weight counter against the entries too. At the end, every value made was
//! dropped exactly once.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use epoch_cache::Reclaimer;
use epoch_cache_fuzz::{
    build, build_weighted, with_backend, Backend, FuzzHash, Ledger, Model, Tracked,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    /// A bound on total weight, with a weigher (see `build_weighted`).
    max_weight: Option<u8>,
    backend: Backend,
    hash: FuzzHash,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u8),
    Get(u8),
    GetCloned(u8),
    ContainsKey(u8),
    Remove(u8),
    Clear,
    /// Insert, get and remove through one `pin()`.
    PinnedInsert(u8),
    PinnedGet(u8),
    PinnedRemove(u8),
    /// Keep a `Ref` across the following operations.
    HoldRef(u8),
    /// Check and drop every held `Ref`.
    ReleaseRefs,
}

const MAX_HELD: usize = 8;

fn run<R: Reclaimer>(input: &Input) {
    let ledger = Arc::new(Ledger::default());
    {
        let capacity = usize::from(input.capacity).max(1);
        let cache = match input.max_weight {
            Some(max_weight) => build_weighted::<R>(capacity, input.hash, max_weight),
            None => build::<R>(capacity, input.hash),
        };
        let mut model = Model::default();
        let mut seq = 0_u64;
        // Refs held across operations, with what they showed when taken.
        let mut held = Vec::new();
        let check_held = |held: &Vec<(epoch_cache::Ref<'_, u16, Tracked, R>, u16, u64)>| {
            for (r, key, seq) in held {
                r.assert_intact();
                assert_eq!(
                    (r.key, r.seq, *r.key()),
                    (*key, *seq, *key),
                    "a held Ref changed"
                );
            }
        };
        for op in &input.ops {
            match *op {
                Op::Insert(key) | Op::PinnedInsert(key) => {
                    let key = u16::from(key);
                    seq += 1;
                    let value = ledger.value(key, seq);
                    if matches!(op, Op::Insert(_)) {
                        cache.insert(key, value);
                    } else {
                        cache.pin().insert(key, value);
                    }
                    model.inserted(key, seq);
                }
                Op::Get(key) => {
                    let key = u16::from(key);
                    let got = cache.get(&key);
                    if let Some(r) = &got {
                        r.assert_intact();
                        assert_eq!(*r.key(), key);
                    }
                    model.check_get(key, got.map(|r| (r.key, r.seq)));
                }
                Op::GetCloned(key) => {
                    let key = u16::from(key);
                    let got = cache.get_cloned(&key);
                    model.check_get(key, got.as_ref().map(|v| (v.key, v.seq)));
                }
                Op::ContainsKey(key) => {
                    let key = u16::from(key);
                    let present = cache.contains_key(&key);
                    // Only absence is informative without the value.
                    if !present {
                        model.check_get(key, None);
                    }
                }
                Op::PinnedGet(key) => {
                    let key = u16::from(key);
                    let pinned = cache.pin();
                    let got = pinned.get(&key);
                    if let Some(v) = got {
                        v.assert_intact();
                    }
                    model.check_get(key, got.map(|v| (v.key, v.seq)));
                }
                Op::Remove(key) | Op::PinnedRemove(key) => {
                    let key = u16::from(key);
                    let removed = if matches!(op, Op::Remove(_)) {
                        cache.remove(&key).is_some()
                    } else {
                        cache.pin().remove(&key).is_some()
                    };
                    model.check_remove(key, removed);
                    assert!(cache.get(&key).is_none(), "key {key} present after remove");
                }
                Op::Clear => {
                    cache.clear();
                    model.cleared();
                    assert_eq!(cache.len(), 0, "len after a quiescent clear");
                }
                Op::HoldRef(key) => {
                    let key = u16::from(key);
                    if held.len() < MAX_HELD {
                        if let Some(r) = cache.get(&key) {
                            model.check_get(key, Some((r.key, r.seq)));
                            let (k, s) = (r.key, r.seq);
                            held.push((r, k, s));
                        } else {
                            model.check_get(key, None);
                        }
                    }
                }
                Op::ReleaseRefs => {
                    check_held(&held);
                    held.clear();
                }
            }
            assert!(
                cache.len() <= cache.capacity(),
                "len {} > capacity {}",
                cache.len(),
                cache.capacity()
            );
            if let Some(max_weight) = cache.max_weight() {
                assert!(cache.weight() <= max_weight, "weight above max_weight");
            }
            cache.validate();
        }
        check_held(&held);
        drop(held);
        // Every key the model does not know absent is present exactly when
        // the cache says so, and `len` counts them.
        let present = (0..=u16::from(u8::MAX))
            .filter(|key| {
                let got = cache.get(key);
                model.check_get(*key, got.as_ref().map(|r| (r.key, r.seq)));
                got.is_some()
            })
            .count();
        assert_eq!(present, cache.len(), "len disagrees with the keys present");
    }
    ledger.assert_all_dropped();
}

fuzz_target!(
    init: epoch_cache_fuzz::warm_up_thread_locals(),
    |input: Input| with_backend!(input.backend, run(&input))
);
