//! Section 1, throughput: every workload at every thread count, for every
//! contender.

use std::collections::HashMap;

use bench_support::contenders::{Contender, Kind};
use bench_support::{median, run_for, with_contender, Streams, Workload, CAPACITY};

use crate::options::Options;
use crate::{cpus, progress};

/// Mops/s by workload, contender and thread count.
pub type Throughput = HashMap<(Workload, Kind, usize), f64>;

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

pub fn section(opts: &Options, streams: &mut Streams) -> Throughput {
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
