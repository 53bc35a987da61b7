//! The expiry clock's ticker thread lives only while a cache needs it: the
//! last cache with deadlines to go stops it, and the next one restarts it.
//! Alone in its binary: any other test's cache could start or keep a ticker.
#![cfg(target_os = "linux")]

use std::time::Duration;

use epoch_cache::Cache;

/// The ticker's threads, by name ("epoch-cache-clock", cut to the 15 bytes
/// Linux keeps).
fn tickers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "epoch-cache-clo")
        .count()
}

/// Waits up to five seconds (a liveness bound: a ticker exits within a
/// millisecond of being stopped) for `count` tickers.
fn expect_tickers(count: usize, why: &str) {
    for _ in 0..5_000 {
        if tickers() == count {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("{} tickers, expected {count}: {why}", tickers());
}

#[test]
fn ticker_stops_with_the_last_cache_that_needs_it() {
    let plain: Cache<u64, u64> = Cache::new(10);
    plain.insert(1, 1);
    expect_tickers(0, "a cache without deadlines started one");

    let first: Cache<u64, u64> = Cache::builder()
        .capacity(10)
        .time_to_live(Duration::from_secs(60))
        .build()
        .unwrap();
    let built_only: Cache<u64, u64> = Cache::builder()
        .capacity(10)
        .time_to_live(Duration::from_secs(60))
        .build()
        .unwrap();
    expect_tickers(0, "building a cache with a time to live started one");
    first.insert(1, 1);
    expect_tickers(1, "the first deadline starts one");
    let second: Cache<u64, u64> = Cache::new(10);
    second.insert_with_ttl(1, 1, Duration::from_secs(60));
    expect_tickers(1, "one ticker serves every cache");

    drop(first);
    drop(built_only);
    std::thread::sleep(Duration::from_millis(20));
    expect_tickers(1, "stopped while a cache still needs it");
    drop(second);
    expect_tickers(0, "left running after the last cache that needed it");

    let third: Cache<u64, u64> = Cache::new(10);
    third.insert_with_ttl(1, 1, Duration::from_millis(30));
    expect_tickers(1, "a new deadline restarts it");
    assert!(third.contains_key(&1));
    std::thread::sleep(Duration::from_millis(60));
    assert!(
        !third.contains_key(&1),
        "the restarted clock expires entries"
    );
    drop(third);
    drop(plain);
    expect_tickers(0, "left running after the last cache, again");
}
