//! Time to live across `fork()`: the child of a process whose expiry clock
//! runs gets a working clock of its own, both for entries it inherited and for
//! entries it inserts, even if it only reads.
//!
//! One test only: a fork carries just the forking thread, so the test process
//! stays as small as it can be.
#![cfg(all(unix, not(miri)))]

use epoch_cache::Cache;
use std::thread::sleep;
use std::time::Duration;

/// What the child checks; each failure exits with its own status. Runs in the
/// child only, and never returns into the test harness there.
fn child(cache: &Cache<u64, u64>) -> i32 {
    sleep(Duration::from_millis(200));
    if cache.get(&1).is_some() {
        return 1; // the inherited entry outlived its deadline on `get`
    }
    if cache.contains_key(&1) {
        return 2; // ... or on `contains_key`
    }
    cache.insert_with_ttl(2, 2, Duration::from_millis(50));
    if !cache.contains_key(&2) {
        return 3; // a fresh entry expired at once
    }
    sleep(Duration::from_millis(100));
    if cache.contains_key(&2) || cache.get(&2).is_some() {
        return 4; // a fresh entry outlived its deadline
    }
    0
}

#[test]
fn entries_expire_in_a_forked_child() {
    let cache: Cache<u64, u64> = Cache::new(100);
    // The first deadline starts the clock's ticker; let it tick a few times.
    cache.insert_with_ttl(1, 1, Duration::from_millis(100));
    sleep(Duration::from_millis(10));
    // SAFETY: the child runs only `child`, which uses the cache, sleeps and
    // allocates (glibc keeps its allocator usable across fork), and leaves by
    // `_exit`, so no destructor or harness code runs twice.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let status = child(&cache);
        // SAFETY: `_exit` ends the child at once; nothing else runs there.
        unsafe { libc::_exit(status) }
    }
    let mut status = 0;
    // SAFETY: `pid` is our child and `status` a valid place to write.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid failed");
    assert!(
        libc::WIFEXITED(status),
        "child died: wait status {status:#x}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child failed check {} (1, 2: inherited entry, 3, 4: fresh entry)",
        libc::WEXITSTATUS(status)
    );
    assert!(cache.get(&1).is_none(), "and in the parent too");
}
