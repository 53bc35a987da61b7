//! Timing single `get`s into a histogram: what `benches/latency.rs` and the
//! compare demo's latency section both measure.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::contenders::Contender;

/// A histogram of nanoseconds, from 1 ns to a minute, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Times each `get` of `keys` (a power-of-two count, cycled) on the current
/// thread until `stop` is set.
pub fn read_latencies<C: Contender>(cache: &C, keys: &[u64], stop: &AtomicBool) -> Histogram<u64> {
    let mut hist = histogram();
    let mask = keys.len() - 1;
    let mut i = 0;
    // Relaxed: a flag; the join that collects the histogram orders the rest.
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let key = keys[i & mask];
            i += 1;
            let start = Instant::now();
            black_box(cache.get(key));
            hist.saturating_record((start.elapsed().as_nanos() as u64).max(1));
        }
    }
    hist
}
