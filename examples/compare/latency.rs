//! Latency of `get` while a writer churns: what a reader waits when it
//! shares the cache with a thread that inserts all the time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use bench_support::contenders::Contender;
use bench_support::latency::read_latencies;
use bench_support::{drive, with_contender, zipf, Budget, Workload, CAPACITY, STREAM_LEN, ZIPF_S};
use hdrhistogram::Histogram;

use crate::cpus;
use crate::options::Options;

/// One reader timing its gets of a full cache while one writer inserts fresh
/// keys (every insert evicts).
fn measure<C: Contender>(opts: &Options, reads: &[u64], churn: &[u64]) -> Histogram<u64> {
    let cache = C::with_capacity(CAPACITY);
    for rank in 0..CAPACITY as u64 {
        let key = zipf::key_of(rank);
        cache.insert(key, key);
    }
    cache.sync();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            barrier.wait();
            drive(&cache, Workload::Insert100, churn, 0, Budget::Until(&stop));
        });
        barrier.wait();
        let reader = s.spawn(|| read_latencies(&cache, reads, &stop));
        std::thread::sleep(opts.latency);
        // Relaxed: see `read_latencies`.
        stop.store(true, Ordering::Relaxed);
        reader.join().expect("reader")
    })
}

pub fn section(opts: &Options) {
    let bar = crate::progress::bar("latency", opts.kinds.len());
    let reads = zipf::zipf_keys(CAPACITY as u64, ZIPF_S, STREAM_LEN, 7);
    let churn = Workload::Insert100.stream(0);
    let mut rows = Vec::new();
    for &kind in &opts.kinds {
        bar.set_message(kind.name());
        rows.push((
            kind,
            with_contender!(kind, C => measure::<C>(opts, &reads, &churn)),
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("## Latency of a get while one writer inserts");
    println!();
    println!(
        "A full cache of {CAPACITY}; one thread gets keys it holds (zipf({ZIPF_S})) while another inserts fresh keys,"
    );
    println!(
        "every insert evicting; each get timed on its own, {} ms per contender, {} CPUs; nanoseconds.",
        opts.latency.as_millis(),
        cpus()
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>10}",
        "contender", "p50", "p99", "p99.9", "max"
    );
    for (kind, hist) in rows {
        println!(
            "{:<24} {:>8} {:>8} {:>8} {:>10}",
            kind.name(),
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max()
        );
    }
    println!();
}
