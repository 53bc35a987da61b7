//! Where the time of one hit goes: `get` on both backends taken apart into
//! the pin and the lookup, next to quick_cache and an unsynchronised map.

use std::collections::HashMap;
use std::time::Instant;

use bench_support::contenders::{Contender, Quick};
use bench_support::zipf::key_of;
use bench_support::{median, Streams, Workload, CAPACITY, HOT_KEYS, ZIPF_S};
use epoch_cache::DefaultHashBuilder;

use crate::options::Options;

/// A read-only std `HashMap` shared by reference, no synchronisation: the
/// ceiling that read scaling is judged against.
pub struct ReadOnlyMap(HashMap<u64, u64, DefaultHashBuilder>);

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

/// Where the time of one hit goes: the same get, taken apart.
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
    let bar = crate::progress::bar("anatomy", opts.core_reps * cells.len());
    for _ in 0..opts.core_reps {
        for ((what, cell), out) in cells.iter().zip(&mut ns) {
            bar.set_message(*what);
            let start = Instant::now();
            let mut ops = 0_u64;
            while start.elapsed() < opts.core_cell {
                black_box(cell(black_box(keys)));
                ops += keys.len() as u64;
            }
            out.push(start.elapsed().as_secs_f64() * 1e9 / ops as f64);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let ns: Vec<f64> = ns.iter_mut().map(|v| median(v)).collect();
    let quick_ns = ns[5];
    println!("## Where a hit's time goes");
    println!();
    println!(
        "One thread, the read-100 stream (16,384 hot keys, zipf({ZIPF_S}), every get hits), capacity {CAPACITY};"
    );
    println!(
        "median of {} interleaved runs of {} ms; ns per operation.",
        opts.core_reps,
        opts.core_cell.as_millis()
    );
    println!(
        "The last column is quick_cache's time per get divided by this line's (above 1: faster than quick_cache)."
    );
    println!("{:<48} {:>8} {:>20}", "what", "ns/op", "quick_cache / this");
    for ((what, _), ns) in cells.iter().zip(&ns) {
        println!("{what:<48} {ns:>8.2} {:>20.2}", quick_ns / ns);
    }
    println!(
        "A get is a pin and a lookup; with no pin at all the lookup alone runs at {:.2} times quick_cache's speed.",
        quick_ns / ns[4]
    );
    println!();
}
