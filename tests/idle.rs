//! Time to idle: unread entries expire, reads keep entries alive, the
//! earlier of idle and time to live wins, and iteration, `retain`, stats and
//! the listener all see idle expiry alike. Both backends.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::TestCache;
use epoch_cache::{BuildError, Cache, Reclaimer, RemovalCause};

type Log = Arc<Mutex<Vec<(u64, RemovalCause)>>>;

fn idle_cache<R: Reclaimer>(
    idle: Duration,
    ttl: Option<Duration>,
) -> (TestCache<u64, u64, R>, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let mut builder = Cache::builder()
        .capacity(64)
        .time_to_idle(idle)
        .eviction_listener(move |k: &u64, _: &u64, cause| sink.lock().unwrap().push((*k, cause)))
        .record_stats(true)
        .reclaimer::<R>();
    if let Some(ttl) = ttl {
        builder = builder.time_to_live(ttl);
    }
    (builder.build().unwrap(), log)
}

fn unread_entries_expire<R: Reclaimer>() {
    let (c, log) = idle_cache::<R>(Duration::from_millis(30), None);
    c.insert(1, 1);
    c.insert(2, 2);
    assert!(c.get(&1).is_some());
    thread::sleep(Duration::from_millis(50));
    let hits_before = c.stats().hits;
    assert!(
        c.get(&1).is_none(),
        "not read for the idle time: never returned"
    );
    assert_eq!(c.get_cloned(&2), None);
    assert!(!c.contains_key(&2), "a peek sees the expiry too");
    let stats = c.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (hits_before, 2),
        "each get a miss (a peek is not counted)"
    );
    assert_eq!(c.iter().count(), 0, "iteration skips idle-expired entries");
    assert_eq!(c.len(), 2, "expired, not yet unlinked");
    c.purge_expired();
    assert_eq!(c.len(), 0);
    let mut left = log.lock().unwrap().clone();
    left.sort_by_key(|&(k, _)| k);
    assert_eq!(
        left,
        [(1, RemovalCause::Expired), (2, RemovalCause::Expired)]
    );
    assert_eq!(c.stats().expirations, 2);
}

fn reads_keep_entries_alive<R: Reclaimer>() {
    let idle = Duration::from_millis(200);
    let (c, log) = idle_cache::<R>(idle, None);
    c.insert(1, 1);
    c.insert(2, 2); // never read
    let start = Instant::now();
    let mut last_read = Instant::now();
    while start.elapsed() < idle * 4 {
        let before = Instant::now();
        let found = c.get_cloned(&1).is_some();
        // A read refreshes the deadline to at least 7/8 of the idle time
        // ahead; only a thread starved for that long could see it gone.
        assert!(
            found || before - last_read >= idle * 7 / 8,
            "read {:?} after the previous one, yet expired",
            before - last_read
        );
        if !found {
            return; // starved: nothing more this run can show
        }
        last_read = before;
        thread::sleep(Duration::from_millis(5));
    }
    assert!(c.get(&2).is_none(), "the unread entry expired meanwhile");
    c.purge_expired();
    assert!(log.lock().unwrap().contains(&(2, RemovalCause::Expired)));
    assert!(!log.lock().unwrap().iter().any(|&(k, _)| k == 1));
}

fn hot_entries_are_refreshed_rarely<R: Reclaimer>() {
    // Behaviour seen from outside: a read refreshes, so an entry read just
    // before its deadline lives on past it.
    let idle = Duration::from_millis(80);
    let (c, _log) = idle_cache::<R>(idle, None);
    c.insert(1, 1);
    thread::sleep(Duration::from_millis(50));
    let read_at = Instant::now();
    assert!(c.get(&1).is_some());
    thread::sleep(Duration::from_millis(50)); // 100 ms after the insert
    let found = c.contains_key(&1); // a peek: sees the deadline, moves nothing
    assert!(
        found || read_at.elapsed() >= idle * 7 / 8,
        "refreshed by the read"
    );
}

fn whichever_comes_first_wins<R: Reclaimer>() {
    // Time to live first, although the entry is read all the time.
    let (c, _) = idle_cache::<R>(Duration::from_secs(60), Some(Duration::from_millis(40)));
    c.insert(1, 1);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(80) {
        let _ = c.get(&1);
        thread::sleep(Duration::from_millis(2));
    }
    assert!(c.get(&1).is_none(), "time to live ran out first");
    // Idle first, with a long time to live.
    let (c, _) = idle_cache::<R>(Duration::from_millis(30), Some(Duration::from_secs(60)));
    c.insert(1, 1);
    thread::sleep(Duration::from_millis(50));
    assert!(c.get(&1).is_none(), "idle time ran out first");
    // And per-entry time to live combines the same way.
    let (c, _) = idle_cache::<R>(Duration::from_secs(60), None);
    c.insert_with_ttl(1, 1, Duration::from_millis(20));
    thread::sleep(Duration::from_millis(40));
    assert!(c.get(&1).is_none());
}

fn retain_and_inserts_unlink_idle_entries<R: Reclaimer>() {
    let (c, log) = idle_cache::<R>(Duration::from_millis(30), None);
    c.insert(1, 1);
    c.insert(2, 2);
    thread::sleep(Duration::from_millis(50));
    c.insert(3, 3); // fresh
    let mut kept = Vec::new();
    c.retain(|k, _| {
        kept.push(*k);
        true
    });
    assert_eq!(kept, [3], "retain's predicate never sees an expired entry");
    assert_eq!(c.len(), 1);
    let mut left = log.lock().unwrap().clone();
    left.sort_by_key(|&(k, _)| k);
    assert_eq!(
        left,
        [(1, RemovalCause::Expired), (2, RemovalCause::Expired)]
    );
    // Re-inserting an idle-expired key replaces it as Expired, not Replaced.
    thread::sleep(Duration::from_millis(50));
    c.insert(3, 4);
    assert_eq!(
        log.lock().unwrap().last(),
        Some(&(3, RemovalCause::Expired))
    );
    assert_eq!(c.get_cloned(&3), Some(4));
    // Removing an idle-expired key says it was not there.
    thread::sleep(Duration::from_millis(50));
    assert!(c.remove(&3).is_none());
}

fn writes_sweep_idle_entries<R: Reclaimer>() {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    // Capacity 2: two sets, both candidates of every key.
    let c: TestCache<u64, u64, R> = Cache::builder()
        .capacity(2)
        .time_to_idle(Duration::from_millis(30))
        .eviction_listener(move |k: &u64, _: &u64, cause| sink.lock().unwrap().push((*k, cause)))
        .reclaimer::<R>()
        .build()
        .unwrap();
    c.insert(1, 1);
    thread::sleep(Duration::from_millis(50));
    c.insert(2, 2);
    assert_eq!(*log.lock().unwrap(), [(1, RemovalCause::Expired)]);
    assert_eq!(c.len(), 1);
}

#[test]
fn zero_time_to_idle_is_refused() {
    let err = Cache::<u64, u64>::builder()
        .capacity(1)
        .time_to_idle(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::ZeroTimeToIdle);
    assert_eq!(err.to_string(), "time to idle must be longer than zero");
    assert_eq!(Cache::<u64, u64>::new(1).time_to_idle(), None);
}

for_each_backend!(
    unread_entries_expire,
    reads_keep_entries_alive,
    hot_entries_are_refreshed_rarely,
    whichever_comes_first_wins,
    retain_and_inserts_unlink_idle_entries,
    writes_sweep_idle_entries,
);
