//! Running a workload: one thread per key stream, all released together,
//! for a fixed time (`run_for`) or a fixed count (`run_iters`, criterion's).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::contenders::Contender;
use crate::workloads::Workload;
use crate::INSERT;

/// Operations between two looks at the stop flag.
const BATCH: u64 = 256;

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
