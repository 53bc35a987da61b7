//! Memory: heap bytes per held entry, counted by a global
//! allocator that counts only while this section runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use bench_support::contenders::Contender;
use bench_support::zipf::key_of;
use bench_support::{with_contender, CAPACITY};

use crate::options::Options;

/// Counts live heap bytes while `COUNTING` is set; otherwise only forwards to
/// the system allocator (one uncontended load), so it costs the throughput
/// runs nothing measurable.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

#[inline]
fn count(delta: isize) {
    // Relaxed: counters read by the thread that switched counting on.
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees are ours; the counting touches only two atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded, as in `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded; `ptr` came from this allocator, that is, `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded, as in `dealloc`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

// ---------------------------------------------------------------- memory

/// Heap bytes per held entry beyond its key and value: a cache of `CAPACITY`
/// filled with as many distinct u64 -> u64 entries, everything it allocated
/// (table slack included) divided by the entries it holds, minus 16.
fn memory_per_entry<C: Contender>() -> (f64, usize, isize) {
    // Relaxed: this thread alone switches counting and reads the counter.
    LIVE_BYTES.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let cache = C::with_capacity(CAPACITY);
    for rank in 0..CAPACITY as u64 {
        let key = key_of(rank);
        cache.insert(key, key);
    }
    cache.sync();
    let held = cache.len();
    let bytes = LIVE_BYTES.load(Ordering::Relaxed);
    COUNTING.store(false, Ordering::Relaxed);
    drop(cache);
    let per_entry = bytes as f64 / held.max(1) as f64 - 16.0;
    (per_entry, held, bytes)
}

/// Garbage under churn: a full epoch-cache of `CAPACITY` entries while
/// `writers` threads insert fresh keys (insert-100) for `span`; the peak of heap
/// bytes above the full cache's, sampled every 50 µs, in entries' worth
/// (the full cache's bytes per held entry). What it counts: entries retired
/// and not yet freed, blocks pooled for reuse, the reclaimer's bags.
fn churn_garbage<R: epoch_cache::Reclaimer>(
    span: std::time::Duration,
    writers: usize,
) -> (f64, isize) {
    use std::sync::atomic::AtomicU64;
    // Relaxed: this thread alone switches counting and reads the counter.
    LIVE_BYTES.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let cache = bench_support::contenders::Epoch::<R>::with_capacity(CAPACITY);
    for rank in 0..CAPACITY as u64 {
        let key = key_of(rank);
        cache.insert(key, key);
    }
    let full = LIVE_BYTES.load(Ordering::Relaxed);
    let per_entry = full as f64 / cache.len().max(1) as f64;
    let stop = AtomicBool::new(false);
    let next = AtomicU64::new(1 << 40);
    let mut peak = full;
    std::thread::scope(|s| {
        for _ in 0..writers {
            s.spawn(|| {
                // Relaxed: a stop flag and a key counter.
                while !stop.load(Ordering::Relaxed) {
                    let base = next.fetch_add(1_024, Ordering::Relaxed);
                    for key in base..base + 1_024 {
                        cache.insert(key, key);
                    }
                }
            });
        }
        let start = std::time::Instant::now();
        while start.elapsed() < span {
            peak = peak.max(LIVE_BYTES.load(Ordering::Relaxed));
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    COUNTING.store(false, Ordering::Relaxed);
    drop(cache);
    let extra = peak - full;
    (extra as f64 / per_entry, extra)
}

pub fn section(opts: &Options) {
    let bar = crate::progress::bar("memory", opts.kinds.len());
    let mut rows = Vec::new();
    for &kind in &opts.kinds {
        bar.set_message(kind.name());
        // On a fresh thread: no block that an earlier section's reclamation
        // pooled on this thread (epoch-cache reuses those) can hide an
        // allocation from the count.
        let measured =
            std::thread::spawn(move || with_contender!(kind, C => memory_per_entry::<C>()))
                .join()
                .expect("memory measurement");
        rows.push((kind, measured));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("## Memory per held entry");
    println!();
    println!("A full cache of {CAPACITY} u64 -> u64 entries; heap bytes requested (counting global allocator");
    println!("over the system allocator), divided by the entries held, minus the 16 bytes of key and value.");
    println!(
        "{:<24} {:>12} {:>8} {:>14}",
        "contender", "heap bytes", "held", "bytes/entry-16"
    );
    for (kind, (per_entry, held, bytes)) in rows {
        println!(
            "{:<24} {:>12} {:>8} {:>14.1}",
            kind.name(),
            bytes,
            held,
            per_entry
        );
    }
    println!();
    let span = opts.core_cell * 3;
    let mut garbage = Vec::new();
    for writers in [1, 2] {
        garbage.push((
            "crossbeam",
            writers,
            churn_garbage::<epoch_cache::Crossbeam>(span, writers),
        ));
        garbage.push((
            "seize",
            writers,
            churn_garbage::<epoch_cache::Seize>(span, writers),
        ));
    }
    println!(
        "Garbage while threads insert fresh keys into a full epoch-cache for {} ms: the peak of heap",
        span.as_millis()
    );
    println!("bytes above the full cache's (retired entries not yet freed, pooled blocks, bags), sampled");
    println!(
        "every 50 us by a third thread. With two writers on two CPUs the sampler preempts one now"
    );
    println!(
        "and then, and what the other retires meanwhile waits for it: that row swings run to run."
    );
    println!(
        "{:<12} {:>8} {:>12} {:>14} {:>12}",
        "backend", "writers", "peak bytes", "entries' worth", "of capacity"
    );
    for (name, writers, (entries, bytes)) in garbage {
        println!(
            "{name:<12} {writers:>8} {bytes:>12} {entries:>14.0} {:>11.1}%",
            100.0 * entries / CAPACITY as f64
        );
    }
    println!();
}
