//! Latency of `get` while writers churn: p50, p99 and p99.9, recorded with
//! hdrhistogram, for epoch-cache (both backends) against the locked variants.
//!
//! ```text
//! cargo bench --bench latency                      # 1 reader, 1 writer, 2 s each
//! cargo bench --bench latency -- --writers 3 --secs 1
//! ```
//!
//! The cache (capacity 65,536) starts full of the keys the reader looks up
//! (zipf 0.99 over 65,536 keys); each writer inserts fresh random keys in a
//! loop, so every insert evicts. Each `get` is timed on its own with
//! `Instant`; the timer's own cost is measured and printed first. With more
//! threads than CPUs the tail shows preemption (a lock holder descheduled),
//! which is exactly what a lock-free read path is meant to avoid.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use bench_support::contenders::{Contender, Kind};
use bench_support::latency::{histogram, read_latencies};
use bench_support::{drive, with_contender, zipf, Budget, Workload, CAPACITY, STREAM_LEN, ZIPF_S};
use hdrhistogram::Histogram;

struct Options {
    writers: usize,
    secs: f64,
}

fn options() -> Options {
    let mut opts = Options {
        writers: 1,
        secs: 2.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--writers" => {
                opts.writers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--writers N")
            }
            "--secs" => opts.secs = args.next().and_then(|v| v.parse().ok()).expect("--secs S"),
            // `cargo test --benches` runs benches with `--test`: keep it short.
            "--test" | "--quick" => opts.secs = 0.05,
            _ => {} // `--bench` and criterion-style filters
        }
    }
    opts
}

fn measure<C: Contender>(opts: &Options, reads: &[u64], churn: &[Vec<u64>]) -> Histogram<u64> {
    let cache = C::with_capacity(CAPACITY);
    for rank in 0..CAPACITY as u64 {
        let key = zipf::key_of(rank);
        cache.insert(key, key);
    }
    cache.sync();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(churn.len() + 1);
    std::thread::scope(|s| {
        for stream in churn {
            let (cache, stop, barrier) = (&cache, &stop, &barrier);
            s.spawn(move || {
                barrier.wait();
                drive(cache, Workload::Insert100, stream, 0, Budget::Until(stop));
            });
        }
        barrier.wait();
        let reader = s.spawn(|| read_latencies(&cache, reads, &stop));
        std::thread::sleep(Duration::from_secs_f64(opts.secs));
        // Relaxed: see `read_latencies`.
        stop.store(true, Ordering::Relaxed);
        reader.join().expect("reader")
    })
}

fn row(name: &str, hist: &Histogram<u64>) {
    println!(
        "{name:<24} {:>12} {:>8} {:>8} {:>8} {:>10}",
        hist.len(),
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.max()
    );
}

fn main() {
    let opts = options();
    let reads = zipf::zipf_keys(CAPACITY as u64, ZIPF_S, STREAM_LEN, 7);
    let churn: Vec<Vec<u64>> = (0..opts.writers)
        .map(|t| Workload::Insert100.stream(t))
        .collect();
    println!(
        "get latency (ns) while {} writer thread(s) churn; capacity {CAPACITY}; {} s each; {} CPUs",
        opts.writers,
        opts.secs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<24} {:>12} {:>8} {:>8} {:>8} {:>10}",
        "contender", "gets", "p50", "p99", "p99.9", "max"
    );
    let mut timer = histogram();
    for _ in 0..1_000_000 {
        let start = Instant::now();
        timer.saturating_record((start.elapsed().as_nanos() as u64).max(1));
    }
    row("(timer alone)", &timer);
    for kind in Kind::LOCAL {
        let hist = with_contender!(kind, C => measure::<C>(&opts, &reads, &churn));
        row(kind.name(), &hist);
    }
}
