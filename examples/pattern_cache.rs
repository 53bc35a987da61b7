//! A cache of compiled regular expressions shared by many threads, the way a
//! log router or a request filter keeps them.
//!
//! ```text
//! cargo run --release --example pattern_cache
//! ```
//!
//! Three things that a locked map of reference-counted handles gets wrong
//! sooner or later, here by construction:
//!
//! 1. Sixteen threads that miss the same pattern at once compile it once:
//!    `get_or_insert_with` is single flight, and the compile runs with no
//!    lock and no epoch pin held.
//! 2. A pattern evicted while a thread is matching with it stays valid until
//!    that thread is done: its `Ref` keeps the entry's memory alive, and
//!    nothing had to bump a count after a lock was released.
//! 3. Memory stays flat over a long churn of distinct patterns: every
//!    evicted pattern is freed once no reader can still see it, with no
//!    sweeper thread.
//!
//! Prints the account at the end and exits non-zero if an assertion fails.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use epoch_cache::{Cache, RemovalCause};
use regex::Regex;

const CAPACITY: usize = 256;
const BURST_THREADS: usize = 16;
const BURST_PATTERNS: usize = 8;
const CHURN_THREADS: usize = 4;
const CHURN_PER_THREAD: usize = 5_000;
const CHURN_ROUNDS: usize = 10;
/// The pattern a thread keeps matching with while it is evicted.
const WATCHED: &str = r"^(?P<user>[a-z0-9.]+)@example\.com$";

// Relaxed everywhere below: counters, read after the threads that wrote them
// were joined (which orders them), or read as a sample.
static COMPILES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static EVICTIONS: AtomicUsize = AtomicUsize::new(0);
static REMOVED: AtomicUsize = AtomicUsize::new(0);
/// Whether the listener saw the watched pattern evicted (or removed).
static WATCHED_GONE: AtomicBool = AtomicBool::new(false);
static WATCHED_FREED: AtomicBool = AtomicBool::new(false);

/// A compiled pattern, counted while it lives.
struct Compiled {
    pattern: String,
    regex: Regex,
}

impl Compiled {
    fn new(pattern: &str) -> Self {
        COMPILES.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        Compiled {
            pattern: pattern.to_string(),
            regex: Regex::new(pattern).expect("a valid pattern"),
        }
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        if self.pattern == WATCHED {
            WATCHED_FREED.store(true, Ordering::Relaxed);
        }
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

type Patterns = Cache<String, Compiled>;

fn main() {
    let started = Instant::now();
    let cache: Patterns = Cache::builder()
        .capacity(CAPACITY)
        .record_stats(true)
        .eviction_listener(|pattern: &String, _: &Compiled, cause| {
            if cause == RemovalCause::Evicted {
                EVICTIONS.fetch_add(1, Ordering::Relaxed);
            }
            if pattern == WATCHED {
                WATCHED_GONE.store(true, Ordering::Relaxed);
            }
        })
        .build()
        .expect("a valid configuration");

    let burst_compiles = burst(&cache);
    let (churned_while_held, removed, live_while_held) = held_across_eviction(&cache);
    let (peak, settled) = churn(&cache);

    let stats = cache.stats();
    let (compiles, evictions, removals, len) = (
        COMPILES.load(Ordering::Relaxed),
        EVICTIONS.load(Ordering::Relaxed),
        REMOVED.load(Ordering::Relaxed),
        cache.len(),
    );
    drop(cache);
    let live_after_drop = LIVE.load(Ordering::Relaxed);

    println!("pattern_cache: capacity {CAPACITY}");
    println!(
        "  burst: {BURST_THREADS} threads missed each of {BURST_PATTERNS} patterns at once; compiles per pattern {burst_compiles:?}"
    );
    let how = if removed {
        format!(
            "still resident after {churned_while_held} inserts (the policy kept it), so removed"
        )
    } else {
        format!("evicted after {churned_while_held} inserts of other patterns")
    };
    println!(
        "  held across eviction: the watched pattern was {how}, and matched 10,000 more times; {live_while_held} patterns alive then (the holder's pin defers every free)"
    );
    println!(
        "  churn: {} distinct patterns on {CHURN_THREADS} threads in {CHURN_ROUNDS} rounds; live compiled patterns at most {peak} during a round, after each round {settled:?}",
        CHURN_THREADS * CHURN_PER_THREAD
    );
    println!(
        "  compiles {compiles}, hits {}, misses {}, evictions {evictions} (stats: {}), held at the end {len}, live after the cache was dropped {live_after_drop}",
        stats.hits, stats.misses, stats.evictions
    );
    println!("  {:.2} s", started.elapsed().as_secs_f64());

    assert!(
        burst_compiles.iter().all(|&n| n == 1),
        "one compile per pattern per burst"
    );
    assert!(
        WATCHED_FREED.load(Ordering::Relaxed),
        "the watched pattern was freed in the end"
    );
    // Every compile inserted one entry; each entry left by eviction or
    // removal, or is still held (nothing is replaced here).
    assert_eq!(
        compiles,
        len + evictions + removals,
        "compiles = held + evicted + removed"
    );
    assert_eq!(
        evictions as u64, stats.evictions,
        "listener and stats agree"
    );
    assert!(len <= CAPACITY);
    // Flat over the churn: after every round, back near the capacity. During
    // a round, what the threads' epoch garbage holds before it is freed in
    // batches comes on top (more when a pinned thread is preempted), never
    // more than that round retired.
    for (round, &live) in settled.iter().enumerate() {
        assert!(
            live <= CAPACITY + 128,
            "round {round}: {live} live after it"
        );
    }
    let per_round = CHURN_THREADS * 2 * CHURN_PER_THREAD / CHURN_ROUNDS;
    assert!(
        peak <= CAPACITY + 128 + per_round,
        "{peak} live during a round"
    );
    assert_eq!(
        live_after_drop, 0,
        "every compiled pattern freed exactly once"
    );
}

/// Sixteen threads miss each pattern together; returns how many times each
/// pattern was compiled.
fn burst(cache: &Patterns) -> Vec<usize> {
    (0..BURST_PATTERNS)
        .map(|round| {
            let pattern = format!(r"^(GET|POST) /api/v{round}/users/(\d+)$");
            let compiles = AtomicUsize::new(0);
            let barrier = Barrier::new(BURST_THREADS);
            thread::scope(|s| {
                for t in 0..BURST_THREADS {
                    let (pattern, compiles, barrier) = (&pattern, &compiles, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let compiled = cache.get_or_insert_with(pattern.clone(), || {
                            compiles.fetch_add(1, Ordering::Relaxed);
                            // A slow compile: the other fifteen arrive meanwhile.
                            thread::sleep(Duration::from_millis(20));
                            Compiled::new(pattern)
                        });
                        let request = format!("GET /api/v{round}/users/{t}");
                        assert!(compiled.regex.is_match(&request));
                    });
                }
            });
            compiles.load(Ordering::Relaxed)
        })
        .collect()
}

/// A thread holds the watched pattern while the main thread churns other
/// patterns until the watched one is evicted (or, if the policy keeps it,
/// removed); the holder keeps matching. Returns the inserts it took, whether
/// it had to be removed, and the live patterns at that moment.
fn held_across_eviction(cache: &Patterns) -> (usize, bool, usize) {
    thread::scope(|s| {
        // Made inside the scope, so that a panic here drops the senders and
        // the holder stops waiting.
        let (held_tx, held_rx) = mpsc::channel();
        let (evicted_tx, evicted_rx) = mpsc::channel::<()>();
        let holder = s.spawn(move || {
            let compiled = cache.get_or_insert_with(WATCHED.to_string(), || Compiled::new(WATCHED));
            held_tx.send(()).expect("main is waiting");
            evicted_rx.recv().expect("main evicts it");
            // Evicted, not freed: the `Ref` keeps it, and it still works.
            let mut matched = 0;
            for i in 0..10_000 {
                let address = format!("user{i}@example.com");
                matched += usize::from(compiled.regex.is_match(&address));
            }
            assert!(!WATCHED_FREED.load(Ordering::Relaxed), "freed while held");
            assert_eq!(compiled.pattern, WATCHED);
            matched
        });
        held_rx.recv().expect("the holder holds it");
        let mut inserts = 0;
        // The listener tells when it is gone (a lookup would count as a use).
        while !WATCHED_GONE.load(Ordering::Relaxed) && inserts < 100_000 {
            let pattern = format!("^held-{inserts}-[a-z]+$");
            drop(cache.get_or_insert_with(pattern.clone(), || Compiled::new(&pattern)));
            // Used again, so that it competes with the watched pattern.
            drop(cache.get(&pattern));
            inserts += 1;
        }
        let removed = !WATCHED_GONE.load(Ordering::Relaxed);
        if removed {
            cache.remove(WATCHED);
            REMOVED.fetch_add(1, Ordering::Relaxed);
        }
        assert!(
            WATCHED_GONE.load(Ordering::Relaxed),
            "the listener saw it leave"
        );
        let live = LIVE.load(Ordering::Relaxed);
        evicted_tx.send(()).expect("the holder waits");
        assert_eq!(holder.join().expect("holder"), 10_000);
        (inserts, removed, live)
    })
}

/// Four threads match requests against a few hot patterns and a stream of
/// distinct ones, in rounds; returns the most live patterns seen during the
/// rounds, and the count after each round, once its threads are done and a
/// few more operations ran.
fn churn(cache: &Patterns) -> (usize, Vec<usize>) {
    let peak = AtomicUsize::new(0);
    let per_round = CHURN_PER_THREAD / CHURN_ROUNDS;
    let mut settled = Vec::new();
    for round in 0..CHURN_ROUNDS {
        thread::scope(|s| {
            for t in 0..CHURN_THREADS {
                let peak = &peak;
                s.spawn(move || {
                    for i in round * per_round..(round + 1) * per_round {
                        let hot = format!(r"^/static/{}/[\w.-]+$", i % 8);
                        let compiled =
                            cache.get_or_insert_with(hot.clone(), || Compiled::new(&hot));
                        assert!(compiled
                            .regex
                            .is_match(&format!("/static/{}/app.js", i % 8)));
                        drop(compiled);
                        let fresh = format!("^tenant-{t}-{i}/[a-z]+$");
                        let compiled =
                            cache.get_or_insert_with(fresh.clone(), || Compiled::new(&fresh));
                        assert!(compiled.regex.is_match(&format!("tenant-{t}-{i}/orders")));
                        peak.fetch_max(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                });
            }
        });
        // The churn threads handed their garbage on when they exited; a few
        // more operations let the epoch advance and free it.
        for _ in 0..1_000 {
            drop(cache.get("not cached"));
        }
        settled.push(LIVE.load(Ordering::Relaxed));
    }
    (peak.load(Ordering::Relaxed), settled)
}
