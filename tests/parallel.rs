//! The `rayon` feature: parallel iteration, retain and extend
//! (`cargo test --features rayon`; CI runs it).
#![cfg(feature = "rayon")]

mod common;

use common::TestCache;
use epoch_cache::{Cache, Reclaimer};

fn builder<K, V, R: Reclaimer>(
    capacity: usize,
) -> epoch_cache::Builder<K, V, epoch_cache::DefaultHashBuilder, R> {
    Cache::builder().capacity(capacity).reclaimer::<R>()
}

fn parallel_operations<R: Reclaimer>() {
    use rayon::prelude::*;
    let c: TestCache<u64, u64, R> = builder(10_000).build().unwrap();
    c.par_extend((0..5_000_u64).into_par_iter().map(|k| (k, k * 2)));
    assert_eq!(c.len(), 5_000);
    let sum: u64 = c.par_iter().map(|(_, v)| v).sum();
    assert_eq!(sum, (0..5_000).map(|k| k * 2).sum());
    c.par_retain(|k, _| k % 2 == 0);
    assert_eq!(c.len(), 2_500);
    assert_eq!(c.par_iter().filter(|(k, _)| k % 2 == 1).count(), 0);
}

for_each_backend!(parallel_operations);
