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
//!
//! Each section of the output has its own module, and `main` runs them in
//! turn; the contenders, workloads and runners are the benches' own
//! (`bench-support`).

mod anatomy;
mod backends;
mod charts;
mod hit_ratio;
mod memory;
mod options;
mod requirements;
mod throughput;

use std::any::TypeId;
use std::time::Instant;

use bench_support::contenders::Kind;
use bench_support::{with_contender, Streams, Workload};

use charts::{chart_dir, hit_ratio_chart, throughput_chart, ChartResult};
use hit_ratio::{load_traces, print_hit_ratios, replay_all, synthetic_traces};
use options::options;

pub fn die(message: &str) -> ! {
    eprintln!("compare: {message}");
    std::process::exit(2)
}

pub fn progress(message: &str) {
    eprintln!("[compare] {message}");
}

/// The contender that `Cache::<u64, u64>::new` builds.
pub fn default_kind() -> Kind {
    if TypeId::of::<epoch_cache::DefaultReclaimer>() == TypeId::of::<epoch_cache::Seize>() {
        Kind::EpochSeize
    } else {
        Kind::EpochCrossbeam
    }
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

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
    let throughput = throughput::section(&opts, &mut streams);

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

    let memory = memory::section();
    backends::section(&opts, &mut streams);
    anatomy::section(&opts, &mut streams);
    let core =
        with_contender!(default_kind(), E => requirements::measure::<E>(&opts, &mut streams));
    let verdicts = requirements::section(&opts, &core, &memory, traces.as_ref().map(|(_, r)| r));

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
