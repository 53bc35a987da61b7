//! The reclamation backends, seize against crossbeam-epoch, on the same
//! table and workloads.

use bench_support::contenders::Contender;
use bench_support::{run_for, Measured, Streams, Workload, CAPACITY};

use crate::options::Options;

/// Runs `cells` in turn, `reps` times (interleaved, so that drift in the
/// machine's load hits every cell alike); the median by ops/s of each.
pub fn interleaved(reps: usize, cells: &[&dyn Fn(usize) -> Measured]) -> Vec<Measured> {
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

/// Seize against crossbeam-epoch, interleaved run by run so that the noise of
/// a shared machine falls on both alike: the figures that settle the default.
pub fn section(opts: &Options, streams: &mut Streams) {
    use bench_support::contenders::Epoch;
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
        (Workload::Read95Insert5, 2),
        (Workload::GetInsertOnMiss, 1),
        (Workload::GetInsertOnMiss, 2),
        (Workload::Insert100, 1),
        (Workload::Insert100, 2),
    ];
    let bar = crate::progress::bar("backends", cases.len());
    for (workload, threads) in cases {
        bar.set_message(format!("{} at {threads} threads", workload.name()));
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
        bar.suspend(|| {
            println!(
                "{:<20} {:>7} {:>10.2} {:>10.2} {:>16.2}",
                workload.name(),
                threads,
                m[0].mops(),
                m[1].mops(),
                m[0].mops() / m[1].mops()
            )
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!();
}
