//! Shared by the benches and by `examples/compare.rs` (which includes this
//! module with `#[path]`): the contenders, the workloads with their
//! precomputed key streams, and a runner that starts every thread together.

// Each target uses a different part of this module.
#![allow(dead_code)]

pub mod contenders;
pub mod zipf;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use contenders::Contender;
use zipf::{key_of, zipf_keys, Rng};

/// The capacity of every throughput cache.
pub const CAPACITY: usize = 65_536;
/// The keys of `read-100`, all inserted before timing.
pub const HOT_KEYS: u64 = 16_384;
/// The keyspace of `get+insert-on-miss`: 16 times the capacity.
pub const MISS_KEYSPACE: u64 = 16 * CAPACITY as u64;
pub const ZIPF_S: f64 = 0.99;
/// Keys per thread stream; a power of two, replayed in a loop.
pub const STREAM_LEN: usize = 1 << 20;
/// The stream word's top bit: insert this key (keys use 63 bits).
pub const INSERT: u64 = 1 << 63;
/// Operations between two looks at the stop flag.
const BATCH: u64 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// `get` of 16,384 pre-inserted keys, zipf(0.99): every lookup hits.
    Read100,
    /// zipf(0.99) over 65,536 pre-inserted keys; one operation in 20 is an
    /// insert (of a key already present, or evicted meanwhile).
    Read95Insert5,
    /// `get`, then `insert` on a miss, zipf(0.99) over 16x the capacity.
    GetInsertOnMiss,
    /// Inserts of fresh random keys into a full cache: every one evicts.
    Insert100,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Read100,
        Workload::Read95Insert5,
        Workload::GetInsertOnMiss,
        Workload::Insert100,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Read100 => "read-100",
            Workload::Read95Insert5 => "read-95-insert-5",
            Workload::GetInsertOnMiss => "get-insert-on-miss",
            Workload::Insert100 => "insert-100",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Workload::Read100 => "get of 16,384 pre-inserted keys, zipf(0.99): every key hits",
            Workload::Read95Insert5 => {
                "zipf(0.99) over 65,536 pre-inserted keys, 95% get, 5% insert"
            }
            Workload::GetInsertOnMiss => {
                "get, insert on a miss; zipf(0.99) over 1,048,576 keys (16x capacity)"
            }
            Workload::Insert100 => {
                "insert of fresh random keys into a full cache (every insert evicts)"
            }
        }
    }

    /// Fills a new cache before timing: the keys every thread will look up
    /// (`read-100`, `read-95`), or the hottest `CAPACITY` ranks (the cache's
    /// steady state under `get+insert-on-miss`; fullness for `insert-100`).
    pub fn prefill<C: Contender>(self, cache: &C) {
        let n = if self == Workload::Read100 {
            HOT_KEYS
        } else {
            CAPACITY as u64
        };
        for rank in 0..n {
            let key = key_of(rank);
            cache.insert(key, key);
        }
        cache.sync();
    }

    /// The key stream of thread `thread`: distinct per thread, the same in
    /// every run.
    pub fn stream(self, thread: usize) -> Vec<u64> {
        let seed = ((self as u64) << 32) ^ thread as u64;
        match self {
            Workload::Read100 => zipf_keys(HOT_KEYS, ZIPF_S, STREAM_LEN, seed),
            Workload::Read95Insert5 => {
                let mut rng = Rng::new(!seed);
                let mut keys = zipf_keys(CAPACITY as u64, ZIPF_S, STREAM_LEN, seed);
                for key in &mut keys {
                    if rng.next_u64() % 20 == 0 {
                        *key |= INSERT;
                    }
                }
                keys
            }
            Workload::GetInsertOnMiss => zipf_keys(MISS_KEYSPACE, ZIPF_S, STREAM_LEN, seed),
            Workload::Insert100 => {
                let mut rng = Rng::new(seed);
                (0..STREAM_LEN).map(|_| rng.next_u64() >> 1).collect()
            }
        }
    }
}

/// A workload and a thread index: names one key stream.
type StreamId = (Workload, usize);

/// Key streams, made once and shared by every contender.
#[derive(Default)]
pub struct Streams(HashMap<StreamId, Arc<[u64]>>);

impl Streams {
    /// Makes the streams of `threads` threads for each workload, in parallel.
    pub fn prepare(&mut self, workloads: &[Workload], threads: usize) {
        let missing: Vec<StreamId> = workloads
            .iter()
            .flat_map(|&w| (0..threads).map(move |t| (w, t)))
            .filter(|key| !self.0.contains_key(key))
            .collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = missing.len().div_ceil(workers).max(1);
        let made: Vec<(StreamId, Arc<[u64]>)> = std::thread::scope(|s| {
            let handles: Vec<_> = missing
                .chunks(chunk)
                .map(|jobs| {
                    s.spawn(move || {
                        jobs.iter()
                            .map(|&(w, t)| ((w, t), w.stream(t).into()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("stream generation"))
                .collect()
        });
        self.0.extend(made);
    }

    /// The streams of threads `0..threads` (made on demand).
    pub fn get(&mut self, workload: Workload, threads: usize) -> Vec<Arc<[u64]>> {
        self.prepare(&[workload], threads);
        (0..threads)
            .map(|t| Arc::clone(&self.0[&(workload, t)]))
            .collect()
    }
}

/// Operations done and lookups that hit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub ops: u64,
    pub hits: u64,
}

/// When a thread stops.
#[derive(Clone, Copy)]
pub enum Budget<'a> {
    Ops(u64),
    Until(&'a AtomicBool),
}

/// Replays `stream` from `cursor` (wrapping) on `cache` until `budget` runs
/// out.
pub fn drive<C: Contender>(
    cache: &C,
    workload: Workload,
    stream: &[u64],
    cursor: usize,
    budget: Budget<'_>,
) -> Tally {
    match workload {
        Workload::Read100 => replay(stream, cursor, budget, |key| {
            black_box(cache.get(key)).is_some()
        }),
        Workload::Read95Insert5 => replay(stream, cursor, budget, |word| {
            if word & INSERT != 0 {
                cache.insert(word ^ INSERT, word);
                false
            } else {
                black_box(cache.get(word)).is_some()
            }
        }),
        Workload::GetInsertOnMiss => replay(stream, cursor, budget, |key| {
            let hit = black_box(cache.get(key)).is_some();
            if !hit {
                cache.insert(key, key);
            }
            hit
        }),
        Workload::Insert100 => replay(stream, cursor, budget, |key| {
            cache.insert(key, key);
            false
        }),
    }
}

#[inline(always)]
fn replay(
    stream: &[u64],
    mut cursor: usize,
    budget: Budget<'_>,
    mut op: impl FnMut(u64) -> bool,
) -> Tally {
    assert!(stream.len().is_power_of_two());
    let mask = stream.len() - 1;
    let mut tally = Tally::default();
    loop {
        let n = match budget {
            Budget::Ops(total) => BATCH.min(total - tally.ops),
            Budget::Until(_) => BATCH,
        };
        if n == 0 {
            break;
        }
        for _ in 0..n {
            let word = stream[cursor & mask];
            cursor = cursor.wrapping_add(1);
            tally.hits += u64::from(op(word));
        }
        tally.ops += n;
        if let Budget::Until(stop) = budget {
            // Relaxed: a flag; the join orders everything that matters.
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    tally
}

/// A throughput measurement: operations, hits and the seconds they took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measured {
    pub tally: Tally,
    pub secs: f64,
}

impl Measured {
    pub fn mops(&self) -> f64 {
        self.tally.ops as f64 / self.secs / 1e6
    }
}

/// Runs one thread per stream for about `duration`, all released together
/// by a barrier; each thread replays its own stream from `cursor`.
///
/// The time is the span from the first thread's start to the last thread's
/// end: with more threads than CPUs, a thread that is not scheduled at once
/// must not shorten the measurement.
pub fn run_for<C: Contender>(
    cache: &C,
    workload: Workload,
    streams: &[Arc<[u64]>],
    cursor: usize,
    duration: Duration,
) -> Measured {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(streams.len() + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .map(|stream| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let tally = drive(cache, workload, stream, cursor, Budget::Until(stop));
                    (tally, start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(duration);
        // Relaxed: see `replay`.
        stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        let mut span = Span::default();
        for handle in handles {
            let (t, start, end) = handle.join().expect("bench thread");
            tally.ops += t.ops;
            tally.hits += t.hits;
            span.add(start, end);
        }
        Measured {
            tally,
            secs: span.duration().as_secs_f64(),
        }
    })
}

/// The span from the earliest start to the latest end of several threads.
#[derive(Default)]
struct Span(Option<(Instant, Instant)>);

impl Span {
    fn add(&mut self, start: Instant, end: Instant) {
        self.0 = Some(match self.0 {
            None => (start, end),
            Some((s, e)) => (s.min(start), e.max(end)),
        });
    }

    fn duration(&self) -> Duration {
        self.0.map_or(Duration::ZERO, |(s, e)| e - s)
    }
}

/// Runs `iters` operations on each of one thread per stream, all released
/// together; returns the span from the first start to the last end (as in
/// `run_for`). For criterion's `iter_custom`.
pub fn run_iters<C: Contender>(
    cache: &C,
    workload: Workload,
    streams: &[Arc<[u64]>],
    cursor: usize,
    iters: u64,
) -> Duration {
    if let [stream] = streams {
        let start = Instant::now();
        black_box(drive(cache, workload, stream, cursor, Budget::Ops(iters)));
        return start.elapsed();
    }
    let barrier = Barrier::new(streams.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .map(|stream| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    black_box(drive(cache, workload, stream, cursor, Budget::Ops(iters)));
                    (start, Instant::now())
                })
            })
            .collect();
        let mut span = Span::default();
        for handle in handles {
            let (start, end) = handle.join().expect("bench thread");
            span.add(start, end);
        }
        span.duration()
    })
}

/// The median of a non-empty list.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
