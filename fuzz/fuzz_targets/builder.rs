//! Builder: an arbitrary configuration either builds a working cache or
//! returns a `BuildError`; it never panics and never hits UB.
#![no_main]

use arbitrary::Arbitrary;
use epoch_cache::{BuildError, Cache, Reclaimer};
use epoch_cache_fuzz::{with_backend, Backend, FuzzHash};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Each is passed to `capacity` in turn (the last wins); empty: never called.
    capacities: Vec<usize>,
    hash: Option<FuzzHash>,
    backend: Backend,
    keys: Vec<u16>,
}

/// Tables above this capacity take more memory than a fuzz run may allocate
/// (libFuzzer's malloc limit); they are skipped unless they must be refused.
const MAX_BUILT: usize = 1 << 20;
/// From here on the table needs more than 2^32 sets: always refused.
const ALWAYS_TOO_LARGE: usize = 1 << 35;

fn run<R: Reclaimer>(input: &Input) {
    let last = input.capacities.last().copied();
    if matches!(last, Some(c) if c > MAX_BUILT && c < ALWAYS_TOO_LARGE) {
        return;
    }
    let mut builder = Cache::<u16, u64>::builder().reclaimer::<R>();
    for &capacity in &input.capacities {
        builder = builder.capacity(capacity);
    }
    let _ = format!("{builder:?}");
    match input.hash {
        Some(hash) => check(builder.hasher(hash).build(), last, &input.keys),
        None => check(builder.build(), last, &input.keys),
    }
}

fn check<S: std::hash::BuildHasher, R: Reclaimer>(
    built: Result<Cache<u16, u64, S, R>, BuildError>,
    capacity: Option<usize>,
    keys: &[u16],
) {
    match (built, capacity) {
        (Ok(cache), Some(capacity)) => {
            assert!(capacity >= 1 && capacity <= MAX_BUILT);
            assert_eq!(cache.capacity(), capacity);
            assert!(cache.slots() >= capacity);
            assert!(cache.is_empty());
            for &key in keys {
                cache.insert(key, u64::from(key));
                if let Some(value) = cache.get_cloned(&key) {
                    assert_eq!(value, u64::from(key));
                }
                assert!(cache.len() <= capacity);
            }
            cache.validate();
            let _ = format!("{cache:?}");
        }
        (Ok(_), None) => panic!("built without a capacity"),
        (Err(err), capacity) => {
            let _ = err.to_string();
            match (err, capacity) {
                (BuildError::MissingCapacity, None) => {}
                (BuildError::ZeroCapacity, Some(0)) => {}
                (BuildError::CapacityTooLarge { capacity: c }, Some(capacity)) => {
                    assert_eq!(c, capacity);
                    assert!(
                        capacity >= ALWAYS_TOO_LARGE,
                        "refused a capacity of only {capacity}"
                    );
                }
                (BuildError::OutOfMemory { .. }, Some(capacity)) => {
                    assert!(
                        capacity > MAX_BUILT,
                        "out of memory for a capacity of {capacity}"
                    );
                }
                (err, capacity) => panic!("unexpected {err:?} for capacity {capacity:?}"),
            }
        }
    }
}

fuzz_target!(
    init: epoch_cache_fuzz::warm_up_thread_locals(),
    |input: Input| with_backend!(input.backend, run(&input))
);
