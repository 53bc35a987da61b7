//! What the features cost on the hit path: `get` with a time to live and
//! statistics against a plain `get`, `get_or_insert_with` on a present key
//! against `get`, and `get_or_insert_async` on a present key (polled once,
//! with a waker that does nothing: the future's own cost, no executor's)
//! against `get_cloned`. One thread, 16,384 hot keys drawn zipf(0.99) from a
//! 65,536-entry cache, u64 keys and values.
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

fn cache(ttl_and_stats: bool) -> Cache<u64, u64> {
    let mut builder = Cache::builder().capacity(CAPACITY);
    if ttl_and_stats {
        builder = builder
            .time_to_live(Duration::from_secs(3600))
            .record_stats(true);
    }
    let cache = builder.build().expect("valid");
    for rank in 0..HOT_KEYS {
        cache.insert(key_of(rank), rank);
    }
    cache
}

fn hit_path(c: &mut Criterion) {
    let keys: Vec<u64> = zipf_keys(HOT_KEYS, ZIPF_S, OPS, 7);
    let plain = cache(false);
    let featured = cache(true);
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
    black_box((plain.len(), featured.stats()));
}

/// A waker for futures that are ready at their first poll.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
