//! Throughput of every contender on four workloads at 1, 2, 4 and 8 threads,
//! in one criterion group per workload, so that epoch-cache (both backends),
//! the locked variants and the peers are compared side by side.
//!
//! ```text
//! cargo bench --bench throughput
//! cargo bench --bench throughput -- read-100          # one workload
//! ```
//!
//! Every thread runs `iters` operations of its own precomputed key stream;
//! all start together at a barrier, and the time reported is the slowest
//! thread's. Throughput is in operations across all threads.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bench_support::contenders::{Contender, Kind};
use bench_support::{run_iters, with_contender, Streams, Workload, CAPACITY};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const THREADS: [usize; 4] = [1, 2, 4, 8];

fn bench_contender<C: Contender>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    kind: Kind,
    workload: Workload,
    streams: &mut Streams,
) {
    // Built on first use, so that benchmarks filtered out cost nothing.
    let cache = OnceCell::new();
    let cache = || {
        cache.get_or_init(|| {
            let cache = C::with_capacity(CAPACITY);
            workload.prefill(&cache);
            cache
        })
    };
    for threads in THREADS {
        let thread_streams = streams.get(workload, threads);
        // Continue each stream where the last sample left it.
        let cursor = AtomicUsize::new(0);
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(BenchmarkId::new(kind.name(), threads), |b| {
            b.iter_custom(|iters| {
                let start = cursor.fetch_add(iters as usize, Ordering::Relaxed);
                run_iters(cache(), workload, &thread_streams, start, iters)
            });
        });
    }
}

fn throughput(c: &mut Criterion) {
    let mut streams = Streams::default();
    streams.prepare(&Workload::ALL, THREADS[THREADS.len() - 1]);
    for workload in Workload::ALL {
        let mut group = c.benchmark_group(workload.name());
        for kind in Kind::ALL {
            with_contender!(kind, C => bench_contender::<C>(&mut group, kind, workload, &mut streams));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // 128 benchmarks: short warm-up and measurement keep the suite to a few
    // minutes. Override with `-- --measurement-time 5` for a careful run.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(10);
    targets = throughput
}
criterion_main!(benches);
