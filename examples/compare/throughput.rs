//! Throughput: every workload at every thread count, for every contender.

use std::collections::HashMap;

use bench_support::contenders::{Contender, Kind};
use bench_support::{median, run_for, with_contender, Streams, Workload, CAPACITY};
use indicatif::ProgressBar;

use crate::options::Options;
use crate::{cpus, is_epoch};

/// Mops/s by workload, contender and thread count.
pub type Throughput = HashMap<(Workload, Kind, usize), f64>;

fn throughput_cells<C: Contender>(
    opts: &Options,
    workload: Workload,
    kind: Kind,
    streams: &mut Streams,
    out: &mut Throughput,
    bar: &ProgressBar,
) {
    let cache = C::with_capacity(CAPACITY);
    workload.prefill(&cache);
    for &threads in &opts.threads {
        bar.set_message(format!(
            "{}, {}, {threads} threads",
            workload.name(),
            kind.name()
        ));
        let thread_streams = streams.get(workload, threads);
        let mut runs: Vec<f64> = (0..opts.reps)
            .map(|rep| run_for(&cache, workload, &thread_streams, rep * 100_003, opts.cell).mops())
            .collect();
        out.insert((workload, kind, threads), median(&mut runs));
        bar.inc(1);
    }
}

pub fn section(opts: &Options, streams: &mut Streams) -> Throughput {
    let bar = crate::progress::bar(
        "throughput",
        Workload::ALL.len() * opts.kinds.len() * opts.threads.len(),
    );
    let mut out = Throughput::new();
    for workload in Workload::ALL {
        for &kind in &opts.kinds {
            with_contender!(kind, C => throughput_cells::<C>(opts, workload, kind, streams, &mut out, &bar));
        }
    }
    bar.finish_and_clear();
    println!("## Throughput (million operations per second, all threads together)");
    println!();
    println!(
        "Capacity {CAPACITY}, u64 keys and values, median of {} x {} ms per cell; this machine has {} CPUs,",
        opts.reps,
        opts.cell.as_millis(),
        cpus()
    );
    println!(
        "so columns past that show threads sharing CPUs (a lock holder preempted), not scaling."
    );
    println!(
        "The last line of each table divides epoch-cache's figure by the best other contender's."
    );
    for workload in Workload::ALL {
        println!();
        println!("{}: {}", workload.name(), workload.describe());
        print!("{:<24}", "contender");
        for t in &opts.threads {
            print!(" {:>8}", format!("{t} thr"));
        }
        println!();
        for &kind in &opts.kinds {
            print!("{:<24}", kind.name());
            for &t in &opts.threads {
                print!(" {:>8.2}", out[&(workload, kind, t)]);
            }
            println!();
        }
        print!("{:<24}", "epoch-cache / best other");
        for &t in &opts.threads {
            let (epoch, other) = ratio_to_best_other(&out, &opts.kinds, workload, t);
            print!(" {:>8}", format!("{:.2}x", epoch / other));
        }
        println!();
    }
    println!();
    out
}

/// epoch-cache's best figure (the default backend unless `--full`) and the
/// best other contender's, for one cell.
fn ratio_to_best_other(out: &Throughput, kinds: &[Kind], w: Workload, t: usize) -> (f64, f64) {
    let best = |epoch: bool| {
        kinds
            .iter()
            .filter(|&&k| is_epoch(k) == epoch)
            .map(|&k| out[&(w, k, t)])
            .fold(0.0_f64, f64::max)
    };
    (best(true), best(false))
}
