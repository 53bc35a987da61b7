//! Where the time of one hit goes: `get` on both backends taken apart into
//! the pin and the lookup, next to quick_cache and an unsynchronised map.

use std::time::Instant;

use bench_support::contenders::{Contender, Quick};
use bench_support::{median, Streams, Workload, CAPACITY, ZIPF_S};

use crate::options::Options;
use crate::progress;
use crate::requirements::ReadOnlyMap;

/// Where the time of one hit goes (requirement 1): the same get, taken apart.
///
/// One thread replays the read-100 stream through each cell in turn; a cell
/// is timed by whole passes over 65,536 keys until `core_cell` has elapsed.
pub fn section(opts: &Options, streams: &mut Streams) {
    use bench_support::contenders::Epoch;
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
