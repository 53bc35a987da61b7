//! The demo: epoch-cache against locked caches and the peers, in one run.
//!
//! ```text
//! cargo run --release --example compare                          # about two minutes
//! cargo run --release --example compare -- --quick               # a few seconds
//! cargo run --release --example compare -- --threads 1,2,4,8,16 --traces ../shared/traces
//! ```
//!
//! Prints, on stdout: (1) a throughput table, workloads x threads x
//! contenders; (2) hit ratios on synthetic workloads and, with `--traces DIR`
//! (default `../shared/traces` when it exists), on trace files (gzip text,
//! one u64 key per line); (3) heap bytes per held entry, counted by a counting
//! global allocator; (4) the core requirements, each with its ratio next to
//! the requirement. Writes SVG charts to `$CARGO_TARGET_DIR/compare/`
//! (default `target/compare/`). Progress goes to stderr.
//!
//! Every throughput figure is the median of a few fixed-duration runs; key
//! streams are precomputed, so no random number is drawn while timing.

#[path = "../benches/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::contenders::{with_contender, Contender, Kind, Quick};
use common::zipf::{key_of, zipf_keys, Rng};
use common::{
    median, run_for, Measured, Streams, Workload, CAPACITY, HOT_KEYS, MISS_KEYSPACE, ZIPF_S,
};
use epoch_cache::DefaultHashBuilder;

// ---------------------------------------------------------------- allocator

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

// ---------------------------------------------------------------- options

struct Options {
    quick: bool,
    threads: Vec<usize>,
    traces: Option<PathBuf>,
    /// One throughput run, and how many runs a cell takes the median of.
    cell: Duration,
    reps: usize,
    core_cell: Duration,
    core_reps: usize,
    /// Requests per synthetic hit-ratio workload; requests kept per trace.
    synthetic_len: usize,
    trace_limit: usize,
}

fn options() -> Options {
    let mut quick = false;
    let mut threads = None;
    let mut traces = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--threads" => {
                let list = args.next().unwrap_or_default();
                let parsed: Vec<usize> = list
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .collect();
                if parsed.is_empty() || parsed.iter().any(|&t| t == 0 || t > 16) {
                    die(&format!(
                        "--threads takes a list of counts from 1 to 16, like 1,2,4; got {list:?}"
                    ));
                }
                threads = Some(parsed);
            }
            "--traces" => {
                traces = Some(PathBuf::from(
                    args.next().unwrap_or_else(|| die("--traces DIR")),
                ))
            }
            "-h" | "--help" => {
                println!("usage: compare [--quick] [--threads 1,2,4,8] [--traces DIR]");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other:?} (try --help)")),
        }
    }
    let traces = traces.or_else(|| {
        let default = PathBuf::from("../shared/traces");
        default.is_dir().then_some(default)
    });
    let threads = threads.unwrap_or_else(|| if quick { vec![1, 2] } else { vec![1, 2, 4, 8] });
    Options {
        quick,
        threads,
        traces,
        cell: Duration::from_millis(if quick { 30 } else { 150 }),
        reps: if quick { 1 } else { 3 },
        core_cell: Duration::from_millis(if quick { 60 } else { 300 }),
        core_reps: if quick { 3 } else { 5 },
        synthetic_len: if quick { 200_000 } else { 1_000_000 },
        trace_limit: if quick { 200_000 } else { usize::MAX },
    }
}

fn die(message: &str) -> ! {
    eprintln!("compare: {message}");
    std::process::exit(2)
}

fn progress(message: &str) {
    eprintln!("[compare] {message}");
}

/// The contender that `Cache::<u64, u64>::new` builds.
fn default_kind() -> Kind {
    if TypeId::of::<epoch_cache::DefaultReclaimer>() == TypeId::of::<epoch_cache::Seize>() {
        Kind::EpochSeize
    } else {
        Kind::EpochCrossbeam
    }
}

// ---------------------------------------------------------------- throughput

/// Mops/s by workload, contender and thread count.
type Throughput = HashMap<(Workload, Kind, usize), f64>;

fn throughput_cells<C: Contender>(
    opts: &Options,
    workload: Workload,
    kind: Kind,
    streams: &mut Streams,
    out: &mut Throughput,
) {
    let cache = C::with_capacity(CAPACITY);
    workload.prefill(&cache);
    for &threads in &opts.threads {
        let thread_streams = streams.get(workload, threads);
        let mut runs: Vec<f64> = (0..opts.reps)
            .map(|rep| run_for(&cache, workload, &thread_streams, rep * 100_003, opts.cell).mops())
            .collect();
        out.insert((workload, kind, threads), median(&mut runs));
    }
}

fn throughput_section(opts: &Options, streams: &mut Streams) -> Throughput {
    let mut out = Throughput::new();
    for workload in Workload::ALL {
        progress(&format!("throughput: {}", workload.name()));
        for kind in Kind::ALL {
            with_contender!(kind, C => throughput_cells::<C>(opts, workload, kind, streams, &mut out));
        }
    }
    println!("## Throughput (Mops/s, all threads together)");
    println!();
    println!(
        "Capacity {CAPACITY}, u64 keys and values, median of {} x {} ms per cell; {} CPUs.",
        opts.reps,
        opts.cell.as_millis(),
        cpus()
    );
    for workload in Workload::ALL {
        println!();
        println!("{}: {}", workload.name(), workload.describe());
        print!("{:<24}", "contender");
        for t in &opts.threads {
            print!(" {:>8}", format!("{t}T"));
        }
        println!();
        for kind in Kind::ALL {
            print!("{:<24}", kind.name());
            for &t in &opts.threads {
                print!(" {:>8.2}", out[&(workload, kind, t)]);
            }
            println!();
        }
    }
    println!();
    out
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------- hit ratio

/// Replays `keys` (get; insert on a miss) and returns the hit ratio in %.
fn hit_ratio<C: Contender>(keys: &[u64], capacity: usize) -> f64 {
    let cache = C::with_capacity(capacity);
    let mut hits = 0_u64;
    for &key in keys {
        if cache.get(key).is_some() {
            hits += 1;
        } else {
            cache.insert(key, key);
        }
    }
    100.0 * hits as f64 / keys.len().max(1) as f64
}

/// A named request stream with the capacities to replay it at.
struct Trace {
    name: String,
    keys: Arc<[u64]>,
    capacities: Vec<usize>,
}

/// Hit ratios by (trace name, capacity, contender).
type HitRatios = HashMap<(String, usize, Kind), f64>;

/// Replays every (trace, capacity, contender) on all CPUs.
fn replay_all(traces: &[Trace], kinds: &[Kind]) -> HitRatios {
    let jobs: Vec<(&Trace, usize, Kind)> = traces
        .iter()
        .flat_map(|t| {
            t.capacities
                .iter()
                .flat_map(move |&c| kinds.iter().map(move |&k| (t, c, k)))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, f64)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..cpus())
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        // Relaxed: a work counter; the join publishes the results.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(trace, capacity, kind)) = jobs.get(i) else {
                            break;
                        };
                        let ratio =
                            with_contender!(kind, C => hit_ratio::<C>(&trace.keys, capacity));
                        done.push((i, ratio));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("replay worker"))
            .collect()
    });
    let mut out = HitRatios::new();
    for (i, ratio) in results.into_iter().flatten() {
        let (trace, capacity, kind) = jobs[i];
        out.insert((trace.name.clone(), capacity, kind), ratio);
    }
    out
}

fn synthetic_traces(opts: &Options) -> Vec<Trace> {
    let n = opts.synthetic_len;
    let capacity = 8_192;
    // zipf(0.99) over 16x the capacity.
    let zipf = zipf_keys(16 * capacity as u64, ZIPF_S, n, 11);
    // A loop over 8,000 keys, just under the capacity: ideal (1 - 1/passes).
    let looped: Vec<u64> = (0..n as u64).map(|i| key_of(i % 8_000)).collect();
    // Half the requests hit 6,000 hot keys uniformly, half are a scan of keys
    // never seen again: LRU flushes the hot set; the ideal is 50%.
    let mut rng = Rng::new(12);
    let mut scan_key = 1_u64 << 40;
    let scan_mix: Vec<u64> = (0..n)
        .map(|_| {
            if rng.next_u64() % 2 == 0 {
                key_of(rng.next_u64() % 6_000)
            } else {
                scan_key += 1;
                key_of(scan_key)
            }
        })
        .collect();
    [
        ("zipf-0.99", zipf),
        ("loop-8000", looped),
        ("scan-mix", scan_mix),
    ]
    .into_iter()
    .map(|(name, keys)| Trace {
        name: name.to_string(),
        keys: keys.into(),
        capacities: vec![capacity],
    })
    .collect()
}

fn read_trace(path: &Path, limit: usize) -> std::io::Result<Vec<u64>> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(path)?));
    let mut keys = Vec::new();
    for line in reader.lines().take(limit) {
        let line = line?;
        let key = line
            .trim()
            .parse()
            .map_err(|e| std::io::Error::other(format!("{}: {line:?}: {e}", path.display())))?;
        keys.push(key);
    }
    Ok(keys)
}

/// The capacities that tell policies apart (see the traces' README): the
/// LIRS loop, scan and zigzag at the sizes where their working set fits and
/// where it does not; every other trace at 5% and 25% of its distinct keys.
fn trace_capacities(name: &str, keys: &[u64]) -> Vec<usize> {
    match name {
        "loop" => vec![512, 1_024],
        "scan" | "zigzag" => vec![1_000, 2_048],
        _ => {
            let distinct = keys.iter().collect::<HashSet<_>>().len();
            vec![(distinct / 20).max(16), (distinct / 4).max(16)]
        }
    }
}

fn load_traces(dir: &Path, limit: usize) -> Vec<Trace> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".trace.gz"))
            .collect(),
        Err(e) => die(&format!("--traces {}: {e}", dir.display())),
    };
    paths.sort();
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                s.spawn(move || {
                    let name = path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .replace(".trace.gz", "");
                    let keys = read_trace(path, limit)
                        .unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
                    let capacities = trace_capacities(&name, &keys);
                    Trace {
                        name,
                        keys: keys.into(),
                        capacities,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("trace reader"))
            .collect()
    })
}

fn print_hit_ratios(title: &str, traces: &[Trace], kinds: &[Kind], ratios: &HitRatios) {
    println!("{title}");
    print!("{:<12} {:>9} {:>10}", "workload", "capacity", "requests");
    for kind in kinds {
        print!(
            " {:>w$}",
            short_name(*kind),
            w = short_name(*kind).len().max(7)
        );
    }
    println!();
    let mut sums = vec![0.0; kinds.len()];
    let mut rows = 0;
    for trace in traces {
        for &capacity in &trace.capacities {
            print!(
                "{:<12} {:>9} {:>10}",
                trace.name,
                capacity,
                trace.keys.len()
            );
            for (i, kind) in kinds.iter().enumerate() {
                let ratio = ratios[&(trace.name.clone(), capacity, *kind)];
                sums[i] += ratio;
                print!(" {:>w$.2}", ratio, w = short_name(*kind).len().max(7));
            }
            println!();
            rows += 1;
        }
    }
    print!("{:<12} {:>9} {:>10}", "mean", "", "");
    for (i, kind) in kinds.iter().enumerate() {
        print!(
            " {:>w$.2}",
            sums[i] / rows as f64,
            w = short_name(*kind).len().max(7)
        );
    }
    println!();
    println!();
}

/// Column headers for the hit-ratio tables.
fn short_name(kind: Kind) -> &'static str {
    match kind {
        Kind::EpochSeize => "epoch/seize",
        Kind::EpochCrossbeam => "epoch/xbeam",
        Kind::MutexLru => "LRU",
        Kind::ShardedLru => "16xLRU",
        Kind::RwLockArc => "RwLock-FIFO",
        other => other.name(),
    }
}

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

fn memory_section() -> HashMap<Kind, f64> {
    progress("memory per entry");
    println!("## Memory per held entry");
    println!();
    println!("A full cache of {CAPACITY} u64 -> u64 entries; heap bytes requested (counting global allocator");
    println!("over the system allocator), divided by the entries held, minus the 16 bytes of key and value.");
    println!(
        "{:<24} {:>12} {:>8} {:>14}",
        "contender", "heap bytes", "held", "bytes/entry-16"
    );
    let mut out = HashMap::new();
    for kind in Kind::ALL {
        let (per_entry, held, bytes) = with_contender!(kind, C => memory_per_entry::<C>());
        println!(
            "{:<24} {:>12} {:>8} {:>14.1}",
            kind.name(),
            bytes,
            held,
            per_entry
        );
        out.insert(kind, per_entry);
    }
    println!();
    out
}

// ---------------------------------------------------------------- core

/// A read-only std `HashMap` shared by reference, no synchronisation: the
/// ceiling that read scaling is judged against.
struct ReadOnlyMap(HashMap<u64, u64, DefaultHashBuilder>);

impl Contender for ReadOnlyMap {
    fn with_capacity(_: usize) -> Self {
        let map = (0..HOT_KEYS)
            .map(|rank| (key_of(rank), key_of(rank)))
            .collect();
        ReadOnlyMap(map)
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).copied()
    }

    fn insert(&self, _: u64, _: u64) {
        unreachable!("read-only")
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

struct Core {
    read: [[Measured; 2]; 3], // [epoch, quick, map] x [1T, 2T]
    miss: [Measured; 3],      // epoch 1T, quick 1T, epoch 4T
    miss_hits: [f64; 2],      // hit ratio %, epoch and quick
}

/// Runs `cells` in turn, `reps` times (interleaved, so that drift in the
/// machine's load hits every cell alike); the median by ops/s of each.
fn interleaved(reps: usize, cells: &[&dyn Fn(usize) -> Measured]) -> Vec<Measured> {
    let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); cells.len()];
    for rep in 0..reps {
        for (cell, out) in cells.iter().zip(&mut runs) {
            out.push(cell(rep * 100_003));
        }
    }
    runs.into_iter()
        .map(|mut r| {
            r.sort_by(|a, b| a.mops().total_cmp(&b.mops()));
            r[r.len() / 2]
        })
        .collect()
}

fn core_measure<E: Contender>(opts: &Options, streams: &mut Streams) -> Core {
    let d = opts.core_cell;
    let read = Workload::Read100;
    progress("core: read-100 at 1 and 2 threads");
    let (epoch, quick, map) = (
        E::with_capacity(CAPACITY),
        Quick::with_capacity(CAPACITY),
        ReadOnlyMap::with_capacity(0),
    );
    read.prefill(&epoch);
    read.prefill(&quick);
    let (s1, s2) = (streams.get(read, 1), streams.get(read, 2));
    let r = interleaved(
        opts.core_reps,
        &[
            &|c| run_for(&epoch, read, &s1, c, d),
            &|c| run_for(&quick, read, &s1, c, d),
            &|c| run_for(&map, read, &s1, c, d),
            &|c| run_for(&epoch, read, &s2, c, d),
            &|c| run_for(&quick, read, &s2, c, d),
            &|c| run_for(&map, read, &s2, c, d),
        ],
    );
    drop((epoch, quick, map));

    progress("core: get+insert-on-miss at 1 and 4 threads");
    let miss = Workload::GetInsertOnMiss;
    let (epoch, quick) = (E::with_capacity(CAPACITY), Quick::with_capacity(CAPACITY));
    miss.prefill(&epoch);
    miss.prefill(&quick);
    let (m1, m4) = (streams.get(miss, 1), streams.get(miss, 4));
    let m = interleaved(
        opts.core_reps,
        &[
            &|c| run_for(&epoch, miss, &m1, c, d),
            &|c| run_for(&quick, miss, &m1, c, d),
            &|c| run_for(&epoch, miss, &m4, c, d),
        ],
    );
    drop((epoch, quick));

    progress("core: hit ratio of get+insert-on-miss");
    // A fresh cache, no prefill: 1M requests of warm-up, then 3M counted.
    let keys = zipf_keys(MISS_KEYSPACE, ZIPF_S, 4 << 20, 99);
    let (warm, counted) = keys.split_at(1 << 20);
    let steady = |replay: &dyn Fn(&[u64], &[u64]) -> f64| replay(warm, counted);
    let miss_hits = [
        steady(&steady_hit_ratio::<E>),
        steady(&steady_hit_ratio::<Quick>),
    ];
    Core {
        read: [[r[0], r[3]], [r[1], r[4]], [r[2], r[5]]],
        miss: [m[0], m[1], m[2]],
        miss_hits,
    }
}

/// The hit ratio (%) over `counted`, after replaying `warm` on a fresh cache.
fn steady_hit_ratio<C: Contender>(warm: &[u64], counted: &[u64]) -> f64 {
    let cache = C::with_capacity(CAPACITY);
    let mut hits = 0_u64;
    for (i, &key) in warm.iter().chain(counted).enumerate() {
        if cache.get(key).is_some() {
            hits += u64::from(i >= warm.len());
        } else {
            cache.insert(key, key);
        }
    }
    100.0 * hits as f64 / counted.len() as f64
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn core_section(
    opts: &Options,
    core: &Core,
    memory: &HashMap<Kind, f64>,
    traces: Option<&HitRatios>,
) -> Vec<(String, bool)> {
    let epoch = default_kind();
    let [[e1, e2], [q1, q2], [h1, h2]] = core.read;
    let [me1, mq1, me4] = core.miss;
    let mut verdicts = Vec::new();
    println!("## Core requirements");
    println!();
    println!(
        "One process; one thread unless said; capacity {CAPACITY}; u64 keys and values; zipf({ZIPF_S}); epoch-cache = {} (the default);",
        epoch.name()
    );
    println!(
        "median of {} interleaved runs of {} ms per figure; {} CPUs.",
        opts.core_reps,
        opts.core_cell.as_millis(),
        cpus()
    );
    println!(
        "{:<4} {:<58} {:<52} {:>8} {:>9} {:>6}",
        "#", "requirement", "measured", "ratio", "need", "result"
    );
    let mut row =
        |id: &str, what: &str, measured: String, ratio: String, need: &str, pass: bool| {
            println!(
                "{id:<4} {what:<58} {measured:<52} {ratio:>8} {need:>9} {:>6}",
                verdict(pass)
            );
            verdicts.push((format!("{id} {what}"), pass));
        };
    let hit_pct = |m: &Measured| 100.0 * m.tally.hits as f64 / m.tally.ops.max(1) as f64;

    let r1 = e1.mops() / q1.mops();
    row(
        "1",
        "read-100, 16,384 hot keys: epoch get / quick_cache get",
        format!(
            "{:.2} / {:.2} Mops/s (hits {:.1}% / {:.1}%)",
            e1.mops(),
            q1.mops(),
            hit_pct(&e1),
            hit_pct(&q1)
        ),
        format!("{r1:.2}"),
        ">= 1.30",
        r1 >= 1.3,
    );

    let (se, sq, sh) = (
        e2.mops() / e1.mops(),
        q2.mops() / q1.mops(),
        h2.mops() / h1.mops(),
    );
    let r2 = se / sh;
    row(
        "2",
        "read-100 2T/1T: epoch scaling / std HashMap scaling",
        format!(
            "epoch {se:.2}x, HashMap {sh:.2}x; quick_cache {sq:.2}x (ratio {:.2})",
            sq / sh
        ),
        format!("{r2:.2}"),
        ">= 0.85",
        r2 >= 0.85,
    );

    let r3 = me1.mops() / mq1.mops();
    row(
        "3a",
        "get+insert-on-miss, 16x keyspace: epoch / quick_cache",
        format!("{:.2} / {:.2} Mops/s", me1.mops(), mq1.mops()),
        format!("{r3:.2}"),
        ">= 1.20",
        r3 >= 1.2,
    );
    let [he, hq] = core.miss_hits;
    row(
        "3b",
        "get+insert-on-miss: hit ratio, epoch vs quick_cache",
        format!("{he:.2}% vs {hq:.2}% (1M warm-up, 3M counted)"),
        format!("{:+.2}pt", he - hq),
        "|d| <= 1pt",
        (he - hq).abs() <= 1.0,
    );

    let r4 = me4.mops() / me1.mops();
    row(
        "4",
        "get+insert-on-miss, 4 threads on the CPUs: epoch 4T / 1T",
        format!(
            "{:.2} / {:.2} Mops/s ({} CPUs)",
            me4.mops(),
            me1.mops(),
            cpus()
        ),
        format!("{r4:.2}"),
        ">= 0.90",
        r4 >= 0.9,
    );

    let r5 = memory[&epoch];
    row(
        "5",
        "heap bytes per held entry beyond K+V, full 65,536 cache",
        format!(
            "quick_cache {:.1}, moka {:.1}, mini-moka {:.1}, LRU {:.1}",
            memory[&Kind::Quick],
            memory[&Kind::Moka],
            memory[&Kind::MiniMoka],
            memory[&Kind::MutexLru]
        ),
        format!("{r5:.1}"),
        "<= 24",
        r5 <= 24.0,
    );

    for (id, trace, capacity, need) in [
        ("6a", "loop", 1_024, 99.0),
        ("6b", "scan", 2_048, 95.0),
        ("6c", "zigzag", 2_048, 95.0),
    ] {
        let what = format!("hit ratio, LIRS {trace} at capacity {capacity}");
        let key = (trace.to_string(), capacity, epoch);
        match traces.and_then(|t| t.get(&key)) {
            Some(&ratio) => {
                let lru = traces
                    .and_then(|t| t.get(&(trace.to_string(), capacity, Kind::MutexLru)))
                    .copied()
                    .unwrap_or(f64::NAN);
                row(
                    id,
                    &what,
                    format!("LRU {lru:.2}%"),
                    format!("{ratio:.2}%"),
                    &format!(">= {need}%"),
                    ratio >= need,
                )
            }
            None => println!(
                "{id:<4} {what:<58} {:<52} {:>8} {:>9} {:>6}",
                "no trace (pass --traces DIR)",
                "-",
                format!(">= {need}%"),
                "n/a"
            ),
        }
    }
    println!();
    verdicts
}

// ---------------------------------------------------------------- backends

/// Seize against crossbeam-epoch, interleaved run by run so that the noise of
/// a shared machine falls on both alike: the figures that settle the default.
/// Where the time of one hit goes (requirement 1): the same get, taken apart.
///
/// One thread replays the read-100 stream through each cell in turn; a cell
/// is timed by whole passes over 65,536 keys until `core_cell` has elapsed.
fn anatomy_section(opts: &Options, streams: &mut Streams) {
    use common::contenders::Epoch;
    use epoch_cache::{Crossbeam, Reclaimer, Seize};
    use std::hint::black_box;

    fn gets(cache: &impl Contender, keys: &[u64]) -> u64 {
        keys.iter().filter_map(|&k| cache.get(k)).sum()
    }
    fn pins<R: Reclaimer>(cache: &Epoch<R>, keys: &[u64]) -> u64 {
        keys.iter()
            .map(|&k| {
                drop(black_box(cache.cache().pin()));
                k
            })
            .sum()
    }

    progress("anatomy of a hit");
    let read = Workload::Read100;
    let stream = streams.get(read, 1).remove(0);
    let keys = &stream[..1 << 16];
    let crossbeam = Epoch::<Crossbeam>::with_capacity(CAPACITY);
    let seize = Epoch::<Seize>::with_capacity(CAPACITY);
    let quick = Quick::with_capacity(CAPACITY);
    read.prefill(&crossbeam);
    read.prefill(&seize);
    read.prefill(&quick);
    let map = ReadOnlyMap::with_capacity(0);
    type Cell<'a> = (&'static str, Box<dyn Fn(&[u64]) -> u64 + 'a>);
    let cells: Vec<Cell> = vec![
        ("get, crossbeam", Box::new(|keys| gets(&crossbeam, keys))),
        ("get, seize", Box::new(|keys| gets(&seize, keys))),
        (
            "pin + unpin alone, crossbeam",
            Box::new(|keys| pins(&crossbeam, keys)),
        ),
        (
            "pin + unpin alone, seize",
            Box::new(|keys| pins(&seize, keys)),
        ),
        (
            "lookup inside one pin (Pinned::get), crossbeam",
            Box::new(|keys| {
                let pinned = crossbeam.cache().pin();
                keys.iter().filter_map(|k| pinned.get(k).copied()).sum()
            }),
        ),
        ("quick_cache get", Box::new(|keys| gets(&quick, keys))),
        (
            "HashMap get (foldhash, unsynchronised)",
            Box::new(|keys| gets(&map, keys)),
        ),
    ];
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); cells.len()];
    for _ in 0..opts.core_reps {
        for ((_, cell), out) in cells.iter().zip(&mut ns) {
            let start = Instant::now();
            let mut ops = 0_u64;
            while start.elapsed() < opts.core_cell {
                black_box(cell(black_box(keys)));
                ops += keys.len() as u64;
            }
            out.push(start.elapsed().as_secs_f64() * 1e9 / ops as f64);
        }
    }
    let ns: Vec<f64> = ns.iter_mut().map(|v| median(v)).collect();
    let quick_ns = ns[5];
    println!("## Where a hit's time goes (requirement 1)");
    println!();
    println!(
        "One thread, the read-100 stream (16,384 hot keys, zipf({ZIPF_S}), every get hits), capacity {CAPACITY};"
    );
    println!(
        "median of {} interleaved runs of {} ms; ns per operation.",
        opts.core_reps,
        opts.core_cell.as_millis()
    );
    println!("{:<48} {:>8} {:>20}", "what", "ns/op", "quick_cache / this");
    for ((what, _), ns) in cells.iter().zip(&ns) {
        println!("{what:<48} {ns:>8.2} {:>20.2}", quick_ns / ns);
    }
    println!(
        "Requirement 1 needs 1.30 in the last column for `get`. A get is a pin and a lookup; with no pin at all the lookup alone reaches {:.2}.",
        quick_ns / ns[4]
    );
    println!();
}

fn backend_section(opts: &Options, streams: &mut Streams) {
    use common::contenders::Epoch;
    use epoch_cache::{Crossbeam, Seize};
    println!("## Reclamation backend: seize against crossbeam-epoch");
    println!();
    println!(
        "Same table, same workloads; median of {} interleaved runs of {} ms; Mops/s.",
        opts.core_reps,
        opts.core_cell.as_millis()
    );
    println!(
        "{:<20} {:>7} {:>10} {:>10} {:>16}",
        "workload", "threads", "seize", "crossbeam", "seize/crossbeam"
    );
    let cases = [
        (Workload::Read100, 1),
        (Workload::Read100, 2),
        (Workload::Read95Insert5, 1),
        (Workload::GetInsertOnMiss, 1),
        (Workload::GetInsertOnMiss, 2),
        (Workload::Insert100, 1),
    ];
    for (workload, threads) in cases {
        progress(&format!(
            "backends: {} at {threads} threads",
            workload.name()
        ));
        let (seize, crossbeam) = (
            Epoch::<Seize>::with_capacity(CAPACITY),
            Epoch::<Crossbeam>::with_capacity(CAPACITY),
        );
        workload.prefill(&seize);
        workload.prefill(&crossbeam);
        let s = streams.get(workload, threads);
        let d = opts.core_cell;
        let m = interleaved(
            opts.core_reps,
            &[&|c| run_for(&seize, workload, &s, c, d), &|c| {
                run_for(&crossbeam, workload, &s, c, d)
            }],
        );
        println!(
            "{:<20} {:>7} {:>10.2} {:>10.2} {:>16.2}",
            workload.name(),
            threads,
            m[0].mops(),
            m[1].mops(),
            m[0].mops() / m[1].mops()
        );
    }
    println!();
}

// ---------------------------------------------------------------- charts

fn chart_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("compare")
}

type ChartResult = Result<(), Box<dyn std::error::Error>>;

fn throughput_chart(
    path: &Path,
    workload: Workload,
    threads: &[usize],
    data: &Throughput,
) -> ChartResult {
    use plotters::prelude::*;
    let top = Kind::ALL
        .iter()
        .flat_map(|&k| threads.iter().map(move |&t| data[&(workload, k, t)]))
        .fold(0.0_f64, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: throughput against threads", workload.name()),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.2_f64..(threads.len() as f64 - 0.8), 0.0..top * 1.45)?;
    let labels: Vec<String> = threads.iter().map(|t| t.to_string()).collect();
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("Mops/s (all threads)")
        .x_labels(threads.len() + 1)
        .x_label_formatter(&|x| category(*x, &labels))
        .draw()?;
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = threads
            .iter()
            .enumerate()
            .map(|(x, &t)| (x as f64, data[&(workload, kind, t)]))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(kind.name())
            .legend(legend_mark(color));
    }
    finish_chart(&mut chart, &root)
}

/// A chart with f64 coordinates on an SVG file, as both charts here draw.
type SvgChart<'a, 'b> = plotters::prelude::ChartContext<
    'a,
    plotters::prelude::SVGBackend<'b>,
    plotters::prelude::Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// Draws the legend of `chart` and writes the file behind `root`.
fn finish_chart<'a, 'b: 'a>(
    chart: &mut SvgChart<'a, 'b>,
    root: &plotters::prelude::DrawingArea<
        plotters::prelude::SVGBackend<'b>,
        plotters::coord::Shift,
    >,
) -> ChartResult {
    use plotters::prelude::*;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The legend mark of a series drawn in `color`.
fn legend_mark(
    color: plotters::style::RGBAColor,
) -> impl Fn((i32, i32)) -> plotters::element::Rectangle<(i32, i32)> {
    use plotters::prelude::*;
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
}

/// The label of category `x` (an integer position), or nothing between them.
fn category(x: f64, names: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

fn hit_ratio_chart(
    path: &Path,
    title: &str,
    traces: &[Trace],
    kinds: &[Kind],
    ratios: &HitRatios,
) -> ChartResult {
    use plotters::prelude::*;
    let groups: Vec<(String, usize)> = traces
        .iter()
        .flat_map(|t| t.capacities.iter().map(|&c| (t.name.clone(), c)))
        .collect();
    let names: Vec<String> = groups.iter().map(|(n, c)| format!("{n}@{c}")).collect();
    let width = (160 + 90 * groups.len()).max(700) as u32;
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5_f64..(groups.len() as f64 - 0.5), 0.0_f64..135.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() + 1)
        .x_label_formatter(&|x| category(*x, &names))
        // The band above 100% holds the legend.
        .y_label_formatter(&|y| {
            if *y <= 100.0 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .y_desc("hit ratio (%)")
        .draw()?;
    let bar = 0.8 / kinds.len() as f64;
    for (i, kind) in kinds.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let bars = groups.iter().enumerate().map(|(g, (name, capacity))| {
            let x0 = g as f64 - 0.4 + i as f64 * bar;
            let value = ratios[&(name.clone(), *capacity, *kind)];
            Rectangle::new([(x0, 0.0), (x0 + bar, value)], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(kind.name())
            .legend(legend_mark(color));
    }
    finish_chart(&mut chart, &root)
}

// ---------------------------------------------------------------- main

fn main() {
    let started = Instant::now();
    let opts = options();
    let mut streams = Streams::default();
    let max_threads = opts.threads.iter().copied().max().unwrap_or(1).max(4);
    progress(&format!(
        "making key streams for up to {max_threads} threads"
    ));
    streams.prepare(&Workload::ALL, max_threads);

    println!(
        "# epoch-cache compare{}",
        if opts.quick { " (--quick)" } else { "" }
    );
    println!();
    let throughput = throughput_section(&opts, &mut streams);

    progress("hit ratio: synthetic workloads");
    println!("## Hit ratio (%)");
    println!();
    println!("Replay: get, then insert on a miss; one thread. Both epoch-cache backends share one policy; traces replay the default.");
    println!();
    let synthetic = synthetic_traces(&opts);
    let synthetic_ratios = replay_all(&synthetic, &Kind::ALL);
    print_hit_ratios(
        "Synthetic (capacity 8,192): zipf(0.99) over 131,072 keys; a loop over 8,000 keys; 6,000 hot keys + 50% one-time scan",
        &synthetic,
        &Kind::ALL,
        &synthetic_ratios,
    );
    // Both backends share one policy: replay the traces once, with the default.
    let other_backend = if default_kind() == Kind::EpochSeize {
        Kind::EpochCrossbeam
    } else {
        Kind::EpochSeize
    };
    let trace_kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|&k| k != other_backend)
        .collect();
    let traces = opts.traces.as_ref().map(|dir| {
        progress(&format!("hit ratio: traces in {}", dir.display()));
        let traces = load_traces(dir, opts.trace_limit);
        let ratios = replay_all(&traces, &trace_kinds);
        let limit = if opts.quick {
            format!(", first {} requests of each (--quick)", opts.trace_limit)
        } else {
            String::new()
        };
        print_hit_ratios(
            &format!("Traces in {}{limit}", dir.display()),
            &traces,
            &trace_kinds,
            &ratios,
        );
        (traces, ratios)
    });
    if traces.is_none() {
        println!("(no trace directory: pass --traces DIR)");
        println!();
    }

    let memory = memory_section();
    backend_section(&opts, &mut streams);
    anatomy_section(&opts, &mut streams);
    let core = with_contender!(default_kind(), E => core_measure::<E>(&opts, &mut streams));
    let verdicts = core_section(&opts, &core, &memory, traces.as_ref().map(|(_, r)| r));

    let dir = chart_dir();
    let charts = std::fs::create_dir_all(&dir)
        .map_err(Into::into)
        .and_then(|()| {
            for workload in Workload::ALL {
                let path = dir.join(format!("throughput-{}.svg", workload.name()));
                throughput_chart(&path, workload, &opts.threads, &throughput)?;
            }
            hit_ratio_chart(
                &dir.join("hit-ratio-synthetic.svg"),
                "Hit ratio: synthetic workloads",
                &synthetic,
                &Kind::ALL,
                &synthetic_ratios,
            )?;
            if let Some((traces, ratios)) = &traces {
                hit_ratio_chart(
                    &dir.join("hit-ratio-traces.svg"),
                    "Hit ratio: traces",
                    traces,
                    &trace_kinds,
                    ratios,
                )?;
            }
            ChartResult::Ok(())
        });
    match charts {
        Ok(()) => println!("Charts: {}/*.svg", dir.display()),
        Err(e) => eprintln!("compare: charts not written: {e}"),
    }
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|(_, pass)| !pass)
        .map(|(what, _)| what.as_str())
        .collect();
    println!(
        "Core requirements: {} of {} pass{}. Total time {:.0} s.",
        verdicts.len() - failed.len(),
        verdicts.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failing: {}", failed.join("; "))
        },
        started.elapsed().as_secs_f64()
    );
}
