//! The API details users trip over: `peek` and `contains_key` are no access,
//! `remove` returns what it removed, a borrowed-key loader that owns the key
//! only to insert it, and the zero time to live.

use std::borrow::Borrow;
use std::collections::hash_map::DefaultHasher;
use std::hash::{BuildHasherDefault, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use epoch_cache::{BuildError, Cache, RemovalCause};

/// A hasher with a fixed seed, so that two caches fed the same operations
/// evict the same entries.
type Fixed = BuildHasherDefault<DefaultHasher>;

fn fixed(capacity: usize) -> Cache<u64, u64, Fixed> {
    Cache::builder()
        .capacity(capacity)
        .hasher(Fixed::default())
        .build()
        .unwrap()
}

#[test]
fn peek_and_contains_key_count_nothing() {
    let cache: Cache<u64, u64> = Cache::builder()
        .capacity(10)
        .record_stats(true)
        .build()
        .unwrap();
    cache.insert(1, 10);
    assert_eq!(cache.peek(&1).as_deref(), Some(&10));
    assert!(cache.peek(&2).is_none());
    assert!(cache.contains_key(&1));
    assert!(!cache.contains_key(&2));
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 0),
        "peek or contains_key counted"
    );
    // The control: `get` is counted.
    assert!(cache.get(&1).is_some() && cache.get(&2).is_none());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));
}

/// Which of the first two keys a third insert evicts from a two-entry cache,
/// after `touch` ran on the first key; `None` if neither went.
fn evicted_after(keys: [u64; 3], touch: impl Fn(&Cache<u64, u64, Fixed>, u64)) -> Option<u64> {
    let cache = fixed(2);
    cache.insert(keys[0], 0);
    cache.insert(keys[1], 1);
    touch(&cache, keys[0]);
    cache.insert(keys[2], 2);
    keys[..2].iter().copied().find(|k| cache.peek(k).is_none())
}

/// `peek` and `contains_key` leave the eviction policy as they found it: a
/// cache where the first key was peeked evicts exactly what a cache where
/// it was not touched evicts. `get` (a hit protects a newcomer) changes the
/// choice in some of the same trials, so the comparison can tell.
#[test]
fn peek_and_contains_key_do_not_protect_from_eviction() {
    let mut hit_changed = 0;
    for trial in 0..200 {
        let keys = [3 * trial, 3 * trial + 1, 3 * trial + 2];
        let untouched = evicted_after(keys, |_, _| {});
        let peeked = evicted_after(keys, |c, k| assert!(c.peek(&k).is_some()));
        let checked = evicted_after(keys, |c, k| assert!(c.contains_key(&k)));
        let hit = evicted_after(keys, |c, k| assert!(c.get(&k).is_some()));
        assert_eq!(peeked, untouched, "trial {trial}: peek changed the victim");
        assert_eq!(
            checked, untouched,
            "trial {trial}: contains_key changed the victim"
        );
        hit_changed += usize::from(hit != untouched);
    }
    assert!(
        hit_changed > 0,
        "a hit never changed the victim: the test tells nothing"
    );
}

type Log = Arc<Mutex<Vec<(u64, String, RemovalCause)>>>;

fn logged(capacity: usize) -> (Cache<u64, String>, Log) {
    let log = Log::default();
    let seen = Arc::clone(&log);
    let cache = Cache::builder()
        .capacity(capacity)
        .eviction_listener(move |k: &u64, v: &String, cause| {
            seen.lock().unwrap().push((*k, v.clone(), cause))
        })
        .build()
        .unwrap();
    (cache, log)
}

/// `remove` returns the entry it removed, readable while the `Ref` lives;
/// the listener sees it only once the `Ref` (a pin) is dropped.
#[test]
fn remove_returns_the_removed_entry() {
    let (cache, log) = logged(10);
    cache.insert(1, "one".into());
    let removed = cache.remove(&1).expect("present");
    assert!(cache.get(&1).is_none(), "unlinked at once");
    cache.insert(1, "uno".into()); // the slot is reused meanwhile
    assert_eq!((*removed.key(), removed.as_str()), (1, "one"));
    assert!(
        log.lock().unwrap().is_empty(),
        "the listener ran while the removed entry's Ref was held"
    );
    drop(removed);
    assert_eq!(
        *log.lock().unwrap(),
        [(1, "one".into(), RemovalCause::Removed)]
    );
    assert_eq!(cache.remove(&1).as_deref().map(String::as_str), Some("uno"));
    assert!(cache.remove(&1).is_none(), "nothing left to remove");
    assert_eq!(cache.pin().remove(&1), None);
    cache.insert(2, "two".into());
    assert_eq!(cache.pin().remove(&2).map(String::as_str), Some("two"));
}

/// A zero time to live means "expires at once": nothing is stored, so
/// nothing is evicted for it; the old value leaves as `Replaced` and the new
/// one goes to the listener as `Expired`. The builder refuses it as a
/// cache's default.
#[test]
fn zero_time_to_live_expires_at_once() {
    let (cache, log) = logged(2);
    cache.insert(1, "a".into());
    cache.insert(2, "b".into());
    cache.insert_with_ttl(3, "c".into(), Duration::ZERO);
    assert!(
        cache.contains_key(&1) && cache.contains_key(&2),
        "it evicted"
    );
    assert!(!cache.contains_key(&3));
    assert_eq!(cache.len(), 2);
    cache.insert_with_ttl(1, "a2".into(), Duration::ZERO);
    assert!(!cache.contains_key(&1), "the old value survived");
    assert_eq!(
        *log.lock().unwrap(),
        [
            (3, "c".into(), RemovalCause::Expired),
            (1, "a".into(), RemovalCause::Replaced),
            (1, "a2".into(), RemovalCause::Expired),
        ]
    );
    let zero = Cache::<u64, u64>::builder()
        .capacity(2)
        .time_to_live(Duration::ZERO)
        .build();
    assert_eq!(zero.unwrap_err(), BuildError::ZeroTimeToLive);
}

/// How many owned keys were made from borrowed ones.
static OWNED: AtomicUsize = AtomicUsize::new(0);

/// A borrowed key whose `to_owned` is counted.
#[derive(Hash, PartialEq, Eq)]
struct Name(u64);

/// Its owned form.
#[derive(Hash, PartialEq, Eq)]
struct OwnedName(Name);

impl Borrow<Name> for OwnedName {
    fn borrow(&self) -> &Name {
        &self.0
    }
}

impl ToOwned for Name {
    type Owned = OwnedName;

    fn to_owned(&self) -> OwnedName {
        OWNED.fetch_add(1, Ordering::Relaxed);
        OwnedName(Name(self.0))
    }
}

/// `get_or_insert_with_ref` (and its async form) owns the key only to insert
/// it: a hit makes no owned key.
#[test]
fn borrowed_key_is_owned_only_to_insert() {
    let cache: Cache<OwnedName, u64> = Cache::new(10);
    assert_eq!(*cache.get_or_insert_with_ref(&Name(1), || 10), 10);
    assert_eq!(OWNED.load(Ordering::Relaxed), 1, "a miss owns its key once");
    for _ in 0..10 {
        assert_eq!(
            *cache.get_or_insert_with_ref(&Name(1), || unreachable!()),
            10
        );
        let hit = cache.get_or_insert_async_ref(&Name(1), async { unreachable!() });
        assert_eq!(pollster::block_on(hit), 10);
    }
    assert_eq!(OWNED.load(Ordering::Relaxed), 1, "a hit owned its key");
    assert_eq!(
        pollster::block_on(cache.get_or_insert_async_ref(&Name(2), async { 20 })),
        20
    );
    assert_eq!(OWNED.load(Ordering::Relaxed), 2);
    assert_eq!(cache.get_cloned(&Name(2)), Some(20));
}
