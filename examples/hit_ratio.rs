//! Replays cache traces (gzip text, one u64 key per line) and prints the hit
//! ratio of epoch-cache against LRU, moka and quick_cache.
//!
//! ```text
//! cargo run --release --example hit_ratio -- ../shared/traces
//! ```

use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::read::GzDecoder;

fn read_trace(path: &Path) -> Vec<u64> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|line| {
            line.expect("read")
                .trim()
                .parse()
                .expect("a u64 key per line")
        })
        .collect()
}

fn replay(keys: &[u64], mut get_or_insert: impl FnMut(u64) -> bool) -> f64 {
    let hits = keys.iter().filter(|&&k| get_or_insert(k)).count();
    100.0 * hits as f64 / keys.len() as f64
}

fn epoch(keys: &[u64], cap: usize) -> f64 {
    let cache: epoch_cache::Cache<u64, u64> = epoch_cache::Cache::new(cap);
    replay(keys, |k| {
        let hit = cache.get(&k).is_some();
        if !hit {
            cache.insert(k, k);
        }
        hit
    })
}

fn lru(keys: &[u64], cap: usize) -> f64 {
    let mut cache = lru::LruCache::new(std::num::NonZeroUsize::new(cap).unwrap());
    replay(keys, |k| {
        let hit = cache.get(&k).is_some();
        if !hit {
            cache.put(k, k);
        }
        hit
    })
}

fn quick(keys: &[u64], cap: usize) -> f64 {
    let mut cache = quick_cache::unsync::Cache::new(cap);
    replay(keys, |k| {
        let hit = cache.get(&k).is_some();
        if !hit {
            cache.insert(k, k);
        }
        hit
    })
}

fn moka(keys: &[u64], cap: usize) -> f64 {
    let cache = moka::sync::Cache::new(cap as u64);
    replay(keys, |k| {
        let hit = cache.get(&k).is_some();
        if !hit {
            cache.insert(k, k);
        }
        hit
    })
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/traces".into());
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("trace dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".trace.gz"))
        .collect();
    names.sort();
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "trace", "cap", "epoch", "lru", "moka", "quick"
    );
    let (mut sum_e, mut sum_l, mut sum_m, mut sum_q, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for path in names {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".trace.gz", "");
        let keys = read_trace(&path);
        let distinct = keys.iter().collect::<std::collections::HashSet<_>>().len();
        let caps = match name.as_str() {
            "loop" => vec![1024, 512],
            "scan" | "zigzag" => vec![2048, 1000],
            _ => vec![(distinct / 20).max(16), distinct / 4],
        };
        for cap in caps {
            let (e, l, m, q) = (
                epoch(&keys, cap),
                lru(&keys, cap),
                moka(&keys, cap),
                quick(&keys, cap),
            );
            println!("{name:<10} {cap:>8} {e:>8.2} {l:>8.2} {m:>8.2} {q:>8.2}");
            sum_e += e;
            sum_l += l;
            sum_m += m;
            sum_q += q;
            n += 1.0;
        }
    }
    println!(
        "{:<10} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        "mean",
        "",
        sum_e / n,
        sum_l / n,
        sum_m / n,
        sum_q / n
    );
}
