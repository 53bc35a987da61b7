//! Hit ratios: synthetic workloads and, with `--traces`, trace files, each
//! replayed by every contender, and epoch-cache's difference from the best
//! other cache on each.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bench_support::contenders::{Contender, Kind};
use bench_support::zipf::{key_of, zipf_keys, Rng};
use bench_support::{with_contender, ZIPF_S};

use crate::charts::no_negative_zero;
use crate::options::Options;
use crate::{cpus, die, is_epoch};
use indicatif::ProgressBar;

/// Replays `keys` (get; insert on a miss) and returns the hit ratio in %.
fn hit_ratio<C: Contender>(keys: &[u64], capacity: usize) -> f64 {
    let cache = C::with_capacity(capacity);
    let mut hits = 0_u64;
    for &key in keys {
        if cache.get(key).is_some() {
            hits += 1;
        } else {
            cache.insert(key, key);
        }
    }
    100.0 * hits as f64 / keys.len().max(1) as f64
}

/// A named request stream with the capacities to replay it at.
pub struct Trace {
    pub name: String,
    pub keys: Arc<[u64]>,
    pub capacities: Vec<usize>,
}

/// Hit ratios by (trace name, capacity, contender).
pub type HitRatios = HashMap<(String, usize, Kind), f64>;

/// Replays every (trace, capacity, contender) on all CPUs.
pub fn replay_all(traces: &[Trace], kinds: &[Kind], bar: &ProgressBar) -> HitRatios {
    let mut jobs: Vec<(&Trace, usize, Kind)> = traces
        .iter()
        .flat_map(|t| {
            t.capacities
                .iter()
                .flat_map(move |&c| kinds.iter().map(move |&k| (t, c, k)))
        })
        .collect();
    // Longest first, so that no long replay starts last.
    jobs.sort_by_key(|(trace, _, _)| std::cmp::Reverse(trace.keys.len()));
    bar.inc_length(jobs.len() as u64);
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, f64)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..cpus())
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        // Relaxed: a work counter; the join publishes the results.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(trace, capacity, kind)) = jobs.get(i) else {
                            break;
                        };
                        let ratio =
                            with_contender!(kind, C => hit_ratio::<C>(&trace.keys, capacity));
                        done.push((i, ratio));
                        bar.inc(1);
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("replay worker"))
            .collect()
    });
    let mut out = HitRatios::new();
    for (i, ratio) in results.into_iter().flatten() {
        let (trace, capacity, kind) = jobs[i];
        out.insert((trace.name.clone(), capacity, kind), ratio);
    }
    out
}

pub fn synthetic_traces(opts: &Options) -> Vec<Trace> {
    let n = opts.synthetic_len;
    let capacity = 8_192;
    // zipf(0.99) over 16x the capacity.
    let zipf = zipf_keys(16 * capacity as u64, ZIPF_S, n, 11);
    // A loop over 8,000 keys, just under the capacity: ideal (1 - 1/passes).
    let looped: Vec<u64> = (0..n as u64).map(|i| key_of(i % 8_000)).collect();
    // Half the requests hit 6,000 hot keys uniformly, half are a scan of keys
    // never seen again: LRU flushes the hot set; the ideal is 50%.
    let mut rng = Rng::new(12);
    let mut scan_key = 1_u64 << 40;
    let scan_mix: Vec<u64> = (0..n)
        .map(|_| {
            if rng.next_u64() % 2 == 0 {
                key_of(rng.next_u64() % 6_000)
            } else {
                scan_key += 1;
                key_of(scan_key)
            }
        })
        .collect();
    [
        ("zipf-0.99", zipf),
        ("loop-8000", looped),
        ("scan-mix", scan_mix),
    ]
    .into_iter()
    .map(|(name, keys)| Trace {
        name: name.to_string(),
        keys: keys.into(),
        capacities: vec![capacity],
    })
    .collect()
}

fn read_trace(path: &Path, limit: usize) -> std::io::Result<Vec<u64>> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(path)?));
    let mut keys = Vec::new();
    for line in reader.lines().take(limit) {
        let line = line?;
        let key = line
            .trim()
            .parse()
            .map_err(|e| std::io::Error::other(format!("{}: {line:?}: {e}", path.display())))?;
        keys.push(key);
    }
    Ok(keys)
}

/// The capacities that tell policies apart (see the traces' README): the
/// LIRS loop, scan and zigzag at the sizes where their working set fits and
/// where it does not; every other trace at 5% and 25% of its distinct keys.
fn trace_capacities(name: &str, keys: &[u64]) -> Vec<usize> {
    match name {
        "loop" => vec![512, 1_024],
        "scan" | "zigzag" => vec![1_000, 2_048],
        _ => {
            let distinct = keys.iter().collect::<HashSet<_>>().len();
            vec![(distinct / 20).max(16), (distinct / 4).max(16)]
        }
    }
}

pub fn load_traces(dir: &Path, limit: usize) -> Vec<Trace> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".trace.gz"))
            .collect(),
        Err(e) => die(&format!("--traces {}: {e}", dir.display())),
    };
    paths.sort();
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                s.spawn(move || {
                    let name = path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .replace(".trace.gz", "");
                    let keys = read_trace(path, limit)
                        .unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
                    let capacities = trace_capacities(&name, &keys);
                    Trace {
                        name,
                        keys: keys.into(),
                        capacities,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("trace reader"))
            .collect()
    })
}

/// One row of a hit-ratio table: epoch-cache against the best other cache.
pub struct Difference {
    /// `trace@capacity`.
    pub label: String,
    /// epoch-cache's hit ratio minus the best other's, in points.
    pub points: f64,
    /// The best other cache on this row.
    pub best: Kind,
}

/// epoch-cache's row-by-row difference from the best other contender of
/// `kinds` (epoch-cache is the first epoch kind in `kinds`).
pub fn differences(traces: &[Trace], kinds: &[Kind], ratios: &HitRatios) -> Vec<Difference> {
    let epoch = *kinds
        .iter()
        .find(|&&k| is_epoch(k))
        .expect("epoch-cache replayed");
    let mut rows = Vec::new();
    for trace in traces {
        for &capacity in &trace.capacities {
            let of = |kind: Kind| ratios[&(trace.name.clone(), capacity, kind)];
            let best = kinds
                .iter()
                .copied()
                .filter(|&k| !is_epoch(k))
                .max_by(|&a, &b| of(a).total_cmp(&of(b)))
                .expect("another contender");
            rows.push(Difference {
                label: format!("{}@{capacity}", trace.name),
                points: of(epoch) - of(best),
                best,
            });
        }
    }
    rows
}

/// epoch-cache's mean hit ratio over the rows minus the highest mean of the
/// other contenders, and whose that is.
pub fn mean_difference(traces: &[Trace], kinds: &[Kind], ratios: &HitRatios) -> Difference {
    let mean = |kind: Kind| {
        let all: Vec<f64> = traces
            .iter()
            .flat_map(|t| t.capacities.iter().map(move |&c| (t, c)))
            .map(|(t, c)| ratios[&(t.name.clone(), c, kind)])
            .collect();
        all.iter().sum::<f64>() / all.len().max(1) as f64
    };
    let epoch = *kinds
        .iter()
        .find(|&&k| is_epoch(k))
        .expect("epoch-cache replayed");
    let best = kinds
        .iter()
        .copied()
        .filter(|&k| !is_epoch(k))
        .max_by(|&a, &b| mean(a).total_cmp(&mean(b)))
        .expect("another contender");
    Difference {
        label: "mean".to_string(),
        points: mean(epoch) - mean(best),
        best,
    }
}

pub fn print_hit_ratios(title: &str, traces: &[Trace], kinds: &[Kind], ratios: &HitRatios) {
    let width = |kind: Kind| short_name(kind).len().max(7);
    println!("{title}");
    print!("{:<12} {:>9} {:>10}", "workload", "capacity", "requests");
    for &kind in kinds {
        print!(" {:>w$}", short_name(kind), w = width(kind));
    }
    println!("  {:>8} {:<12}", "vs best", "best other");
    let diffs = differences(traces, kinds, ratios);
    let mut sums = vec![0.0; kinds.len()];
    let mut rows = diffs.iter();
    // Row by row, then the mean of each column.
    for trace in traces {
        for &capacity in &trace.capacities {
            print!(
                "{:<12} {:>9} {:>10}",
                trace.name,
                capacity,
                trace.keys.len()
            );
            for (i, &kind) in kinds.iter().enumerate() {
                let ratio = ratios[&(trace.name.clone(), capacity, kind)];
                sums[i] += ratio;
                print!(" {:>w$.2}", ratio, w = width(kind));
            }
            let row = rows.next().expect("one difference per row");
            let points = no_negative_zero(row.points, 2);
            println!("  {points:>+8.2} {:<12}", short_name(row.best));
        }
    }
    let n = diffs.len().max(1) as f64;
    print!("{:<12} {:>9} {:>10}", "mean", "", "");
    for (i, &kind) in kinds.iter().enumerate() {
        print!(" {:>w$.2}", sums[i] / n, w = width(kind));
    }
    // The mean row compares means: epoch-cache's against the highest other.
    let mean = mean_difference(traces, kinds, ratios);
    let points = no_negative_zero(mean.points, 2);
    println!("  {points:>+8.2} {:<12}", short_name(mean.best));
    let wins = diffs.iter().filter(|d| d.points >= 0.0).count();
    println!(
        "epoch-cache is at or above the best other cache on {wins} of {} rows; mean of the row differences {:+.2} points.",
        diffs.len(),
        diffs.iter().map(|d| d.points).sum::<f64>() / n
    );
    println!();
}

/// Column headers for the hit-ratio tables (which replay one backend of
/// epoch-cache: both share one policy).
pub fn short_name(kind: Kind) -> &'static str {
    match kind {
        Kind::EpochSeize | Kind::EpochCrossbeam => "epoch-cache",
        Kind::MutexLru => "LRU",
        Kind::ShardedLru => "16xLRU",
        Kind::RwLockArc => "RwLock-FIFO",
        Kind::DashMapArc => "DashMap-FIFO",
        other => other.name(),
    }
}
