//! What the features cost on the hit path: `get` with a time to live and
//! statistics against a plain `get`, `get` with a time to idle against a
//! plain `get` (goal: at most 15% slower), `get_or_insert_with` on a present
//! key against `get`, and `get_or_insert_async` on a present key (polled
//! once, with a waker that does nothing: the future's own cost, no
//! executor's) against `get_cloned`. One thread, 16,384 hot keys drawn
//! zipf(0.99) from a 65,536-entry cache, u64 keys and values.
//!
//! And on the insert path: `insert` with a weigher against a plain `insert`
//! (goal: at most 15% slower), keys drawn zipf(0.99) from four times the
//! capacity, so that most inserts evict. The plain `get` and `insert` cases
//! are the ones to compare across commits: without a weigher or a time to
//! idle they must not change.
//!
//! ```text
//! cargo bench --bench features
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bench_support::zipf::{key_of, zipf_keys};
use bench_support::{CAPACITY, HOT_KEYS, ZIPF_S};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use epoch_cache::Cache;

const OPS: usize = 1 << 16;

/// The options a benchmarked cache is built with.
#[derive(Clone, Copy, PartialEq)]
enum Features {
    Plain,
    TtlAndStats,
    TimeToIdle,
    Weigher,
}

fn cache(features: Features) -> Cache<u64, u64> {
    let mut builder = Cache::builder().capacity(CAPACITY);
    match features {
        Features::Plain => {}
        Features::TtlAndStats => {
            builder = builder
                .time_to_live(Duration::from_secs(3600))
                .record_stats(true);
        }
        Features::TimeToIdle => builder = builder.time_to_idle(Duration::from_secs(3600)),
        // Eight bytes a value: the weight bound meets the count bound.
        Features::Weigher => {
            builder = builder
                .max_weight(8 * CAPACITY as u64)
                .weigher(|_: &u64, value: &u64| std::mem::size_of_val(value) as u64);
        }
    }
    let cache = builder.build().expect("valid");
    for rank in 0..HOT_KEYS {
        cache.insert(key_of(rank), rank);
    }
    cache
}

fn hit_path(c: &mut Criterion) {
    let keys: Vec<u64> = zipf_keys(HOT_KEYS, ZIPF_S, OPS, 7);
    let plain = cache(Features::Plain);
    let featured = cache(Features::TtlAndStats);
    let idle = cache(Features::TimeToIdle);
    let mut group = c.benchmark_group("hit-path");
    group
        .throughput(Throughput::Elements(OPS as u64))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("get", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| *plain.get(k).expect("hot"))
                .fold(0, u64::wrapping_add)
        })
    });
    group.bench_function("get+ttl+stats", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| *featured.get(k).expect("hot"))
                .fold(0, u64::wrapping_add)
        })
    });
    group.bench_function("get+tti", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| *idle.get(k).expect("hot"))
                .fold(0, u64::wrapping_add)
        })
    });
    group.bench_function("get_or_insert_with(present)", |b| {
        b.iter(|| {
            keys.iter()
                .map(|&k| *plain.get_or_insert_with(k, || unreachable!("hot keys are present")))
                .fold(0, u64::wrapping_add)
        })
    });
    group.bench_function("get_cloned", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| plain.get_cloned(k).expect("hot"))
                .fold(0, u64::wrapping_add)
        })
    });
    let waker = Waker::from(Arc::new(NoWake));
    let mut context = Context::from_waker(&waker);
    group.bench_function("get_or_insert_async(present)", |b| {
        b.iter(|| {
            keys.iter()
                .map(|&k| {
                    let load = async { unreachable!("hot keys are present") };
                    match pin!(plain.get_or_insert_async(k, load)).poll(&mut context) {
                        Poll::Ready(value) => value,
                        Poll::Pending => unreachable!("a present key is ready at once"),
                    }
                })
                .fold(0, u64::wrapping_add)
        })
    });
    group.bench_function("pinned.get", |b| {
        b.iter(|| {
            let pinned = plain.pin();
            keys.iter()
                .map(|k| *pinned.get(k).expect("hot"))
                .fold(0, u64::wrapping_add)
        })
    });
    group.finish();
    black_box((plain.len(), featured.stats(), idle.len()));
}

fn insert_path(c: &mut Criterion) {
    let keys: Vec<u64> = zipf_keys(4 * CAPACITY as u64, ZIPF_S, OPS, 11);
    let plain = cache(Features::Plain);
    let weighted = cache(Features::Weigher);
    let mut group = c.benchmark_group("insert-path");
    group
        .throughput(Throughput::Elements(OPS as u64))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, cache) in [("insert", &plain), ("insert+weigher", &weighted)] {
        group.bench_function(name, |b| {
            b.iter(|| keys.iter().for_each(|&k| cache.insert(k, k)))
        });
    }
    group.finish();
    black_box((plain.len(), weighted.weight()));
}

/// A waker for futures that are ready at their first poll.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

criterion_group!(benches, hit_path, insert_path);
criterion_main!(benches);
