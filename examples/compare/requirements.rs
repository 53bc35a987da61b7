//! The last section, the core requirements: each measured against its peer,
//! with the ratio next to what the requirement needs.

use std::collections::HashMap;

use bench_support::contenders::{Contender, Kind, Quick};
use bench_support::zipf::{key_of, zipf_keys};
use bench_support::{
    run_for, Measured, Streams, Workload, CAPACITY, HOT_KEYS, MISS_KEYSPACE, ZIPF_S,
};
use epoch_cache::DefaultHashBuilder;

use crate::hit_ratio::HitRatios;
use crate::options::Options;
use crate::{cpus, default_kind, progress};

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

pub struct Core {
    read: [[Measured; 2]; 3], // [epoch, quick, map] x [1T, 2T]
    miss: [Measured; 3],      // epoch 1T, quick 1T, epoch 4T
    miss_hits: [f64; 2],      // hit ratio %, epoch and quick
}

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

pub fn measure<E: Contender>(opts: &Options, streams: &mut Streams) -> Core {
    let d = opts.core_cell;
    let read = Workload::Read100;
    progress("core: read-100 at 1 and 2 threads");
    let (epoch, quick, map) = (
        E::with_capacity(CAPACITY),
        Quick::with_capacity(CAPACITY),
        ReadOnlyMap::with_capacity(0),
    );
    read.prefill(&epoch);
    read.prefill(&quick);
    let (s1, s2) = (streams.get(read, 1), streams.get(read, 2));
    let r = interleaved(
        opts.core_reps,
        &[
            &|c| run_for(&epoch, read, &s1, c, d),
            &|c| run_for(&quick, read, &s1, c, d),
            &|c| run_for(&map, read, &s1, c, d),
            &|c| run_for(&epoch, read, &s2, c, d),
            &|c| run_for(&quick, read, &s2, c, d),
            &|c| run_for(&map, read, &s2, c, d),
        ],
    );
    drop((epoch, quick, map));

    progress("core: get+insert-on-miss at 1 and 4 threads");
    let miss = Workload::GetInsertOnMiss;
    let (epoch, quick) = (E::with_capacity(CAPACITY), Quick::with_capacity(CAPACITY));
    miss.prefill(&epoch);
    miss.prefill(&quick);
    let (m1, m4) = (streams.get(miss, 1), streams.get(miss, 4));
    let m = interleaved(
        opts.core_reps,
        &[
            &|c| run_for(&epoch, miss, &m1, c, d),
            &|c| run_for(&quick, miss, &m1, c, d),
            &|c| run_for(&epoch, miss, &m4, c, d),
        ],
    );
    drop((epoch, quick));

    progress("core: hit ratio of get+insert-on-miss");
    // A fresh cache, no prefill: 1M requests of warm-up, then 3M counted.
    let keys = zipf_keys(MISS_KEYSPACE, ZIPF_S, 4 << 20, 99);
    let (warm, counted) = keys.split_at(1 << 20);
    let steady = |replay: &dyn Fn(&[u64], &[u64]) -> f64| replay(warm, counted);
    let miss_hits = [
        steady(&steady_hit_ratio::<E>),
        steady(&steady_hit_ratio::<Quick>),
    ];
    Core {
        read: [[r[0], r[3]], [r[1], r[4]], [r[2], r[5]]],
        miss: [m[0], m[1], m[2]],
        miss_hits,
    }
}

/// The hit ratio (%) over `counted`, after replaying `warm` on a fresh cache.
fn steady_hit_ratio<C: Contender>(warm: &[u64], counted: &[u64]) -> f64 {
    let cache = C::with_capacity(CAPACITY);
    let mut hits = 0_u64;
    for (i, &key) in warm.iter().chain(counted).enumerate() {
        if cache.get(key).is_some() {
            hits += u64::from(i >= warm.len());
        } else {
            cache.insert(key, key);
        }
    }
    100.0 * hits as f64 / counted.len() as f64
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

pub fn section(
    opts: &Options,
    core: &Core,
    memory: &HashMap<Kind, f64>,
    traces: Option<&HitRatios>,
) -> Vec<(String, bool)> {
    let epoch = default_kind();
    let [[e1, e2], [q1, q2], [h1, h2]] = core.read;
    let [me1, mq1, me4] = core.miss;
    let mut verdicts = Vec::new();
    println!("## Core requirements");
    println!();
    println!(
        "One process; one thread unless said; capacity {CAPACITY}; u64 keys and values; zipf({ZIPF_S}); epoch-cache = {} (the default);",
        epoch.name()
    );
    println!(
        "median of {} interleaved runs of {} ms per figure; {} CPUs.",
        opts.core_reps,
        opts.core_cell.as_millis(),
        cpus()
    );
    println!(
        "{:<4} {:<58} {:<52} {:>8} {:>9} {:>6}",
        "#", "requirement", "measured", "ratio", "need", "result"
    );
    let mut row =
        |id: &str, what: &str, measured: String, ratio: String, need: &str, pass: bool| {
            println!(
                "{id:<4} {what:<58} {measured:<52} {ratio:>8} {need:>9} {:>6}",
                verdict(pass)
            );
            verdicts.push((format!("{id} {what}"), pass));
        };
    let hit_pct = |m: &Measured| 100.0 * m.tally.hits as f64 / m.tally.ops.max(1) as f64;

    let r1 = e1.mops() / q1.mops();
    row(
        "1",
        "read-100, 16,384 hot keys: epoch get / quick_cache get",
        format!(
            "{:.2} / {:.2} Mops/s (hits {:.1}% / {:.1}%)",
            e1.mops(),
            q1.mops(),
            hit_pct(&e1),
            hit_pct(&q1)
        ),
        format!("{r1:.2}"),
        ">= 1.30",
        r1 >= 1.3,
    );

    let (se, sq, sh) = (
        e2.mops() / e1.mops(),
        q2.mops() / q1.mops(),
        h2.mops() / h1.mops(),
    );
    let r2 = se / sh;
    row(
        "2",
        "read-100 2T/1T: epoch scaling / std HashMap scaling",
        format!(
            "epoch {se:.2}x, HashMap {sh:.2}x; quick_cache {sq:.2}x (ratio {:.2})",
            sq / sh
        ),
        format!("{r2:.2}"),
        ">= 0.85",
        r2 >= 0.85,
    );

    let r3 = me1.mops() / mq1.mops();
    row(
        "3a",
        "get+insert-on-miss, 16x keyspace: epoch / quick_cache",
        format!("{:.2} / {:.2} Mops/s", me1.mops(), mq1.mops()),
        format!("{r3:.2}"),
        ">= 1.20",
        r3 >= 1.2,
    );
    let [he, hq] = core.miss_hits;
    row(
        "3b",
        "get+insert-on-miss: hit ratio, epoch vs quick_cache",
        format!("{he:.2}% vs {hq:.2}% (1M warm-up, 3M counted)"),
        format!("{:+.2}pt", he - hq),
        "|d| <= 1pt",
        (he - hq).abs() <= 1.0,
    );

    let r4 = me4.mops() / me1.mops();
    row(
        "4",
        "get+insert-on-miss, 4 threads on the CPUs: epoch 4T / 1T",
        format!(
            "{:.2} / {:.2} Mops/s ({} CPUs)",
            me4.mops(),
            me1.mops(),
            cpus()
        ),
        format!("{r4:.2}"),
        ">= 0.90",
        r4 >= 0.9,
    );

    let r5 = memory[&epoch];
    row(
        "5",
        "heap bytes per held entry beyond K+V, full 65,536 cache",
        format!(
            "quick_cache {:.1}, moka {:.1}, mini-moka {:.1}, LRU {:.1}",
            memory[&Kind::Quick],
            memory[&Kind::Moka],
            memory[&Kind::MiniMoka],
            memory[&Kind::MutexLru]
        ),
        format!("{r5:.1}"),
        "<= 24",
        r5 <= 24.0,
    );

    for (id, trace, capacity, need) in [
        ("6a", "loop", 1_024, 99.0),
        ("6b", "scan", 2_048, 95.0),
        ("6c", "zigzag", 2_048, 95.0),
    ] {
        let what = format!("hit ratio, LIRS {trace} at capacity {capacity}");
        let key = (trace.to_string(), capacity, epoch);
        match traces.and_then(|t| t.get(&key)) {
            Some(&ratio) => {
                let lru = traces
                    .and_then(|t| t.get(&(trace.to_string(), capacity, Kind::MutexLru)))
                    .copied()
                    .unwrap_or(f64::NAN);
                row(
                    id,
                    &what,
                    format!("LRU {lru:.2}%"),
                    format!("{ratio:.2}%"),
                    &format!(">= {need}%"),
                    ratio >= need,
                )
            }
            None => println!(
                "{id:<4} {what:<58} {:<52} {:>8} {:>9} {:>6}",
                "no trace (pass --traces DIR)",
                "-",
                format!(">= {need}%"),
                "n/a"
            ),
        }
    }
    println!();
    verdicts
}
