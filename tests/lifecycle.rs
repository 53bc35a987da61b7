//! Bugs around an entry's change of hands, each reproduced on the code
//! before its fix: flights keyed by hash alone, reads that skipped the
//! statistics, an iterator that handed out entries expired meanwhile.

mod common;

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::Duration;

use common::TestCache;
use epoch_cache::{Cache, Reclaimer};

/// Hashes a `u64` key to `key / 10`: keys 0-9 collide, as do 10-19, and so
/// on (a user's weak hasher, or keys chosen by an attacker).
#[derive(Clone, Copy, Default)]
struct Tens;

struct TensHasher(u64);

impl BuildHasher for Tens {
    type Hasher = TensHasher;
    fn build_hasher(&self) -> TensHasher {
        TensHasher(0)
    }
}

impl Hasher for TensHasher {
    fn finish(&self) -> u64 {
        // Spread the class over the whole word, so classes land in different
        // sets and shards; equal classes still give equal hashes.
        (self.0 / 10).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Colliding<R> = Cache<u64, u64, Tens, R>;

fn colliding<R: Reclaimer>() -> Colliding<R> {
    Cache::builder()
        .capacity(100)
        .hasher(Tens)
        .reclaimer::<R>()
        .build()
        .unwrap()
}

/// An initializer that loads another key of the same hash is no re-entry.
fn init_may_load_a_colliding_key<R: Reclaimer>() {
    let c = colliding::<R>();
    let v = *c.get_or_insert_with(1, || *c.get_or_insert_with(2, || 20) + 1);
    assert_eq!(v, 21);
    assert_eq!((c.get_cloned(&1), c.get_cloned(&2)), (Some(21), Some(20)));
}

/// A caller of one key never waits for the load of a colliding key.
fn colliding_keys_do_not_wait_for_each_other<R: Reclaimer>() {
    let c = &colliding::<R>();
    let (started, release) = (AtomicBool::new(false), AtomicBool::new(false));
    thread::scope(|s| {
        let slow = s.spawn(|| {
            *c.get_or_insert_with(1, || {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
                10
            })
        });
        while !started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        // Key 2 shares key 1's hash; its load must not wait for key 1's.
        let (done_tx, done_rx) = mpsc::channel();
        s.spawn(move || done_tx.send(*c.get_or_insert_with(2, || 20)).unwrap());
        let got = done_rx.recv_timeout(Duration::from_secs(10));
        release.store(true, Ordering::SeqCst);
        assert_eq!(got, Ok(20), "key 2 waited for key 1's load");
        assert_eq!(slow.join().unwrap(), 10);
    });
}

/// Two loads whose initializers each need a key colliding with the other's
/// load: keyed by hash, each waited for the other for ever.
fn crossed_colliding_loads_do_not_deadlock<R: Reclaimer>() {
    let c = colliding::<R>();
    let both_lead = Barrier::new(2);
    let (done_tx, done_rx) = mpsc::channel();
    // Leaked on failure only: a deadlocked thread cannot be joined.
    let c: &'static Colliding<R> = Box::leak(Box::new(c));
    let both_lead: &'static Barrier = Box::leak(Box::new(both_lead));
    for (mine, theirs_colliding) in [(0_u64, 11_u64), (10, 1)] {
        let done_tx = done_tx.clone();
        thread::spawn(move || {
            let v = *c.get_or_insert_with(mine, || {
                both_lead.wait();
                *c.get_or_insert_with(theirs_colliding, || 5) + 1
            });
            done_tx.send(v).unwrap();
        });
    }
    for _ in 0..2 {
        let got = done_rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(got, Ok(6), "the two loads deadlocked");
    }
}

fn pinned_reads_are_counted<R: Reclaimer>() {
    let c: TestCache<u64, u64, R> = Cache::builder()
        .capacity(10)
        .record_stats(true)
        .reclaimer::<R>()
        .build()
        .unwrap();
    c.insert(1, 1);
    let pinned = c.pin();
    assert_eq!(pinned.get(&1), Some(&1));
    assert_eq!(pinned.get(&2), None);
    drop(pinned);
    let s = c.stats();
    assert_eq!((s.hits, s.misses), (1, 1), "Pinned::get counts like get");
}

/// `Iter` reads a set at a time; an entry that expires between the read of
/// its set and `next()` must not be handed out.
fn iter_skips_entries_that_expire_while_it_runs<R: Reclaimer>() {
    // Two sets: the first `next()` leaves the rest of its set pending.
    let c: TestCache<u64, u64, R> = common::cache(10);
    for k in 0..10 {
        c.insert_with_ttl(k, k, Duration::from_millis(150));
    }
    let mut iter = c.iter();
    let first = iter.next().expect("entries are live");
    drop(first);
    thread::sleep(Duration::from_millis(300));
    let late: Vec<u64> = iter.map(|r| *r.key()).collect();
    assert!(late.is_empty(), "handed out expired entries: {late:?}");
}

/// The evictions of `get_or_insert_with` reach the listener once the `Ref`
/// it returned (a pin) is dropped, never while it is held.
fn load_evictions_reach_the_listener_after_the_ref<R: Reclaimer>() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&calls);
    let c: TestCache<u64, u64, R> = Cache::builder()
        .capacity(1)
        .reclaimer::<R>()
        .eviction_listener(move |k: &u64, v: &u64, cause| {
            assert_eq!((*k, *v, cause), (1, 10, epoch_cache::RemovalCause::Evicted));
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    c.insert(1, 10);
    let r = c.get_or_insert_with(2, || 20);
    assert_eq!(*r, 20);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "called under the Ref's pin"
    );
    drop(r);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

for_each_backend!(
    load_evictions_reach_the_listener_after_the_ref,
    init_may_load_a_colliding_key,
    colliding_keys_do_not_wait_for_each_other,
    crossed_colliding_loads_do_not_deadlock,
    pinned_reads_are_counted,
    iter_skips_entries_that_expire_while_it_runs,
);
