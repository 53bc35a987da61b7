//! The demo: epoch-cache against the caches a Rust service would pick
//! instead, in one run of about a minute.
//!
//! ```text
//! cargo run --release --example compare                        # about a minute
//! cargo run --release --example compare -- --traces ../shared/traces
//! cargo run --release --example compare -- --full              # the long version
//! cargo run --release --example compare -- --quick             # a smoke test
//! cargo run --release --example compare -- --anatomy           # also where a hit's time goes
//! ```
//!
//! Prints, on stdout: throughput against threads for four workloads; hit
//! ratios on synthetic workloads and, with `--traces DIR` (default
//! `../shared/traces` when it exists), on trace files (gzip text, one u64
//! key per line), each row with epoch-cache's difference from the best other
//! cache; heap bytes per held entry, counted by a counting global allocator;
//! the latency of a `get` while a writer inserts. Writes the charts, SVG and
//! PNG, to `$CARGO_TARGET_DIR/compare/` (default `target/compare/`).
//! Progress bars and the time each section took go to stderr.
//!
//! Every throughput figure is the median of a few fixed-duration runs; key
//! streams are precomputed, so no random number is drawn while timing.
//!
//! Each section of the output has its own module, and `main` runs them in
//! turn; the contenders, workloads and runners are the benches' own
//! (`bench-support`).

mod anatomy;
mod backends;
mod charts;
mod hit_ratio;
mod latency;
mod memory;
mod options;
mod progress;
mod throughput;

use std::any::TypeId;

use bench_support::contenders::Kind;
use bench_support::{Streams, Workload};

use charts::{chart_dir, render, DifferenceChart, ThroughputChart};
use hit_ratio::{differences, mean_difference, HitRatios, Trace};
use options::{options, Options};
use throughput::Throughput;

pub fn die(message: &str) -> ! {
    eprintln!("compare: {message}");
    std::process::exit(2)
}

/// The contender that `Cache::<u64, u64>::new` builds.
pub fn default_kind() -> Kind {
    if TypeId::of::<epoch_cache::DefaultReclaimer>() == TypeId::of::<epoch_cache::Seize>() {
        Kind::EpochSeize
    } else {
        Kind::EpochCrossbeam
    }
}

pub fn is_epoch(kind: Kind) -> bool {
    matches!(kind, Kind::EpochSeize | Kind::EpochCrossbeam)
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A hit-ratio table: its title, rows and results.
struct HitTable {
    title: String,
    traces: Vec<Trace>,
    ratios: HitRatios,
}

fn main() {
    let opts = options();
    let mut sections = progress::Sections::new();
    let mut streams = Streams::default();
    let max_threads = opts.threads.iter().copied().max().unwrap_or(1).max(4);
    sections.run("key streams", || {
        let bar = progress::bar("key streams", 1);
        bar.set_message(format!("up to {max_threads} threads"));
        streams.prepare(&Workload::ALL, max_threads);
        bar.finish_and_clear();
    });

    let mode = match (opts.quick, opts.full) {
        (true, _) => " (--quick: short runs, for a smoke test)",
        (_, true) => " (--full)",
        _ => "",
    };
    println!("# epoch-cache against other caches{mode}");
    println!();
    println!(
        "Contenders: epoch-cache ({}); Mutex<LruCache> (the lru crate behind one lock);",
        default_kind().name()
    );
    println!("16xMutex<LruCache> (16 shards); RwLock<HashMap<Arc>> (readers clone an Arc under the read lock,");
    println!("FIFO eviction under the write lock); DashMap<Arc> (DashMap<K, Arc<V>>, readers clone an Arc under");
    println!("a shard's read lock, FIFO eviction within 16 stripes of keys); moka 0.12, quick_cache 0.7, mini-moka 0.10.");
    println!();
    let throughput = sections.run("throughput", || throughput::section(&opts, &mut streams));
    let tables = sections.run("hit ratio", || hit_ratios(&opts));
    sections.run("memory", || memory::section(&opts));
    sections.run("latency", || latency::section(&opts));
    if opts.anatomy {
        sections.run("backends", || backends::section(&opts, &mut streams));
        sections.run("anatomy", || anatomy::section(&opts, &mut streams));
    } else {
        println!("(`--anatomy` adds where a hit's time goes and the two reclamation backends side by side.)");
        println!();
    }
    sections.run("charts", || charts(&opts, &throughput, &tables));
    sections.report();
}

/// The contenders of the hit-ratio tables: the default backend of
/// epoch-cache only (both share one policy), and without mini-moka (moka's
/// policy, as slow to replay) unless `--full`.
fn hit_kinds(opts: &Options) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|&k| !is_epoch(k) || k == default_kind())
        .filter(|&k| k != Kind::MiniMoka || opts.full)
        .collect()
}

fn hit_ratios(opts: &Options) -> Vec<(&'static str, HitTable)> {
    let kinds = hit_kinds(opts);
    let bar = progress::bar("hit ratio", 0);
    bar.set_message("synthetic workloads");
    let synthetic = hit_ratio::synthetic_traces(opts);
    let mut tables = vec![(
        "synthetic",
        HitTable {
            title: format!("Synthetic (capacity 8,192), {} requests each: zipf(0.99) over 131,072 keys; a loop over 8,000 keys; 6,000 hot keys + 50% one-time scan", opts.synthetic_len),
            ratios: hit_ratio::replay_all(&synthetic, &kinds, &bar),
            traces: synthetic,
        },
    )];
    if let Some(dir) = &opts.traces {
        bar.set_message(format!("traces in {}", dir.display()));
        let traces = hit_ratio::load_traces(dir, opts.trace_limit);
        let limit = if opts.full {
            String::new()
        } else {
            format!(
                ", first {} requests of each (--full replays them whole)",
                opts.trace_limit
            )
        };
        tables.push((
            "traces",
            HitTable {
                title: format!("Traces in {}{limit}", dir.display()),
                ratios: hit_ratio::replay_all(&traces, &kinds, &bar),
                traces,
            },
        ));
    }
    bar.finish_and_clear();
    println!("## Hit ratio (%)");
    println!();
    println!("Replay: get, then insert on a miss; one thread. \"vs best\": epoch-cache's hit ratio minus the best");
    println!("other cache's on that row, in percentage points (the mean row: epoch-cache's mean minus the highest");
    println!("other mean). The FIFO caches evict in insertion order; LRU is the lru crate's. mini-moka, whose");
    println!("policy is moka's, replays with --full.");
    println!();
    for (_, table) in &tables {
        hit_ratio::print_hit_ratios(&table.title, &table.traces, &kinds, &table.ratios);
    }
    if opts.traces.is_none() {
        println!("(no trace directory: pass --traces DIR)");
        println!();
    }
    tables
}

fn charts(opts: &Options, throughput: &Throughput, tables: &[(&'static str, HitTable)]) {
    let dir = chart_dir();
    match write_charts(&dir, opts, throughput, tables) {
        Ok(()) => println!("Charts: {}/*.svg and *.png", dir.display()),
        Err(e) => eprintln!("compare: charts not written: {e}"),
    }
}

fn write_charts(
    dir: &std::path::Path,
    opts: &Options,
    throughput: &Throughput,
    tables: &[(&'static str, HitTable)],
) -> charts::ChartResult {
    std::fs::create_dir_all(dir)?;
    charts::load_font()?;
    for workload in Workload::ALL {
        let chart = ThroughputChart {
            workload,
            threads: &opts.threads,
            kinds: &opts.kinds,
            data: throughput,
        };
        render(dir, &format!("throughput-{}", workload.name()), &chart)?;
    }
    let kinds = hit_kinds(opts);
    for (stem, table) in tables {
        let rows = differences(&table.traces, &kinds, &table.ratios);
        let mean = mean_difference(&table.traces, &kinds, &table.ratios);
        let chart = DifferenceChart {
            title: &format!("Hit ratio ({stem}): epoch-cache minus the best other cache"),
            rows: &rows,
            mean: &mean,
        };
        render(dir, &format!("hit-ratio-{stem}"), &chart)?;
    }
    Ok(())
}
