//! A cache of secret keys that must be wiped exactly once, when they are
//! evicted and no longer in use: the `zeroize` crate's pattern, wiping on
//! `Drop`.
//!
//! ```text
//! cargo run --release --example key_cache
//! ```
//!
//! A locked map of reference-counted keys has to choose: wipe on eviction
//! (and a thread still signing with the key reads zeros), or keep evicted
//! keys on an orphan list that a sweeper thread wipes later (and count
//! carefully, or wipe twice). Here a thread holds a key across its eviction
//! and keeps signing with it; the key's memory is reclaimed, so wiped, only
//! once no thread can still see it, by the epoch collector of the threads
//! that use the cache: no sweeper, no orphan list. Every key is wiped exactly
//! once by the time the cache is dropped.
//!
//! Reclamation is in batches: a key is wiped some operations after its last
//! holder lets go, not at that instant. The example asserts what is
//! guaranteed (never wiped while held; wiped exactly once by the end) and
//! prints when the held key was wiped.
//!
//! Prints the account at the end and exits non-zero if an assertion fails.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use epoch_cache::{Cache, RemovalCause};
use zeroize::{Zeroize, ZeroizeOnDrop};

const CAPACITY: usize = 64;
/// Key ids 0..KEYS; the churn asks for them at random, so keys are evicted
/// and derived again many times.
const KEYS: usize = 2_000;
const THREADS: usize = 4;
const REQUESTS_PER_THREAD: usize = 50_000;
/// The keys held across their eviction: one through a `Ref`, one through a
/// `Pinned` read.
const HELD_REF: u32 = 7;
const HELD_PINNED: u32 = 8;

// Relaxed everywhere below: counters, read after the threads that wrote them
// were joined (which orders them), or read as a sample.
static CREATED: [AtomicUsize; KEYS] = [const { AtomicUsize::new(0) }; KEYS];
static WIPED: [AtomicUsize; KEYS] = [const { AtomicUsize::new(0) }; KEYS];
/// Whether the listener saw a key evicted (or removed).
static EVICTED: [AtomicBool; KEYS] = [const { AtomicBool::new(false) }; KEYS];

/// A 32-byte secret, wiped when dropped.
struct SecretKey {
    id: u32,
    bytes: [u8; 32],
}

impl SecretKey {
    /// Derives key `id` (a stand-in for a KMS call or a key derivation).
    fn derive(id: u32) -> Self {
        CREATED[id as usize].fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0; 32];
        let mut state = u64::from(id) ^ 0x9E37_79B9_7F4A_7C15;
        for chunk in bytes.chunks_mut(8) {
            state = state.wrapping_mul(0x5851_F42D_4C95_7F2D).wrapping_add(1);
            chunk.copy_from_slice(&(state | 1).to_le_bytes());
        }
        SecretKey { id, bytes }
    }

    /// A toy MAC of `message`: what a thread uses the key for.
    fn sign(&self, message: &[u8]) -> u64 {
        let mut h = 0xCBF2_9CE4_8422_2325_u64;
        for &b in self.bytes.iter().chain(message) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
        h
    }

    fn is_wiped(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
        WIPED[self.id as usize].fetch_add(1, Ordering::Relaxed);
    }
}

// The bytes are wiped on drop (above).
impl ZeroizeOnDrop for SecretKey {}

type Keys = Cache<u32, SecretKey>;

fn main() {
    let started = Instant::now();
    let cache: Keys = Cache::builder()
        .capacity(CAPACITY)
        .eviction_listener(|id: &u32, _: &SecretKey, cause| {
            if matches!(cause, RemovalCause::Evicted | RemovalCause::Removed) {
                EVICTED[*id as usize].store(true, Ordering::Relaxed);
            }
        })
        .build()
        .expect("a valid configuration");

    let (gone, wiped_after) = held_across_eviction(&cache);
    let requests = churn(&cache);
    let held_at_end = cache.len();
    drop(cache);

    let created: usize = CREATED.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let wiped: usize = WIPED.iter().map(|w| w.load(Ordering::Relaxed)).sum();
    let unbalanced: Vec<usize> = (0..KEYS)
        .filter(|&i| CREATED[i].load(Ordering::Relaxed) != WIPED[i].load(Ordering::Relaxed))
        .collect();

    println!("key_cache: capacity {CAPACITY}, {KEYS} key ids");
    let how = match gone {
        Gone::Evicted(n) => format!("evicted after {n} inserts of other keys"),
        Gone::Removed(n) => {
            format!("still resident after {n} inserts (the policy kept them), so removed")
        }
    };
    println!(
        "  held across eviction: keys {HELD_REF} (a Ref) and {HELD_PINNED} (a Pinned read) {how}; each signed with 10,000 more times, not wiped while held"
    );
    match wiped_after {
        Some(ops) => println!(
            "  both wiped {ops} inserts after their holders let go, by the thread that evicted them (no sweeper, no orphan list)"
        ),
        None => println!(
            "  not yet wiped 100,000 inserts after their holders let go; wiped when the cache was dropped"
        ),
    }
    println!(
        "  churn: {requests} requests on {THREADS} threads, {held_at_end} keys held at the end"
    );
    println!("  keys derived {created}, keys wiped {wiped}; ids derived and wiped a different number of times: {unbalanced:?}");
    println!("  {:.2} s", started.elapsed().as_secs_f64());

    assert_eq!(created, wiped, "every key wiped, once");
    assert!(unbalanced.is_empty(), "no key wiped twice or left unwiped");
}

/// How the held keys left the cache.
#[derive(Debug)]
enum Gone {
    /// Evicted after this many inserts of other keys.
    Evicted(usize),
    /// Still resident after that many (the policy kept them): removed.
    Removed(usize),
}

/// Two threads hold keys while the main thread derives and uses others
/// until both are evicted (or, if the policy keeps them, removes them); the
/// holders keep signing and check their key intact. Returns how the keys
/// left and, if they were wiped within 100,000 later operations, how many.
fn held_across_eviction(cache: &Keys) -> (Gone, Option<usize>) {
    let gone = thread::scope(|s| {
        // Made inside the scope, so that a panic here drops the senders and
        // the holders stop waiting.
        let (held_tx, held_rx) = mpsc::channel();
        let (evicted_tx, evicted_rx) = mpsc::channel::<()>();
        let (evicted_tx2, evicted_rx2) = mpsc::channel::<()>();
        let held_tx2 = held_tx.clone();
        s.spawn(move || {
            let key = cache.get_or_insert_with(HELD_REF, || SecretKey::derive(HELD_REF));
            let expected = key.sign(b"request");
            held_tx.send(()).expect("main is waiting");
            evicted_rx.recv().expect("main evicts it");
            keep_signing(&key, expected);
        });
        s.spawn(move || {
            cache.insert(HELD_PINNED, SecretKey::derive(HELD_PINNED));
            let pinned = cache.pin();
            let key = pinned.get(&HELD_PINNED).expect("just inserted");
            let expected = key.sign(b"request");
            held_tx2.send(()).expect("main is waiting");
            evicted_rx2.recv().expect("main evicts it");
            keep_signing(key, expected);
        });
        held_rx.recv().expect("the first holder holds its key");
        held_rx.recv().expect("the second holder holds its key");
        let gone = evict_held(cache);
        evicted_tx.send(()).expect("the first holder waits");
        evicted_tx2.send(()).expect("the second holder waits");
        gone
    });
    // Both holders have let go and exited. The keys wait in this thread's
    // batch of retired entries, freed once the batch fills up and the epoch
    // moves on: count this thread's further operations (inserts of other
    // keys, which retire what they evict) until then. Not asserted: when
    // exactly the collector frees them.
    let wiped = || {
        WIPED[HELD_REF as usize].load(Ordering::Relaxed) == 1
            && WIPED[HELD_PINNED as usize].load(Ordering::Relaxed) == 1
    };
    let wiped_after = (0..100_000).find(|&i| {
        let id = 100 + (i % (KEYS - 100)) as u32;
        cache.insert(id, SecretKey::derive(id));
        wiped()
    });
    (gone, wiped_after.map(|i| i + 1))
}

/// Derives keys 100 and up and uses each twice (so that they compete with
/// the held keys, rather than only with each other) until the listener has
/// seen both held keys leave; after 200,000 inserts, removes them.
fn evict_held(cache: &Keys) -> Gone {
    let gone = || {
        EVICTED[HELD_REF as usize].load(Ordering::Relaxed)
            && EVICTED[HELD_PINNED as usize].load(Ordering::Relaxed)
    };
    let mut id = 100;
    for inserts in 0..200_000 {
        // The listener tells when they are gone (a lookup would count as a use).
        if gone() {
            return Gone::Evicted(inserts);
        }
        cache.insert(id, SecretKey::derive(id));
        for _ in 0..2 {
            drop(cache.get(&id));
        }
        id = if id + 1 == KEYS as u32 { 100 } else { id + 1 };
    }
    cache.remove(&HELD_REF);
    cache.remove(&HELD_PINNED);
    assert!(gone(), "the listener saw both held keys leave");
    Gone::Removed(200_000)
}

/// Signs 10,000 times with a key that has been evicted, checking that it is
/// still the same key and not wiped.
fn keep_signing(key: &SecretKey, expected: u64) {
    for _ in 0..10_000 {
        assert_eq!(key.sign(b"request"), expected, "the key changed while held");
    }
    assert!(!key.is_wiped());
    assert_eq!(
        WIPED[key.id as usize].load(Ordering::Relaxed),
        0,
        "wiped while held"
    );
}

/// Threads sign requests with keys chosen at random among `KEYS`, deriving
/// a key on a miss: keys are evicted and derived again all the time.
fn churn(cache: &Keys) -> usize {
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ t as u64;
                for _ in 0..REQUESTS_PER_THREAD {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let id = (state % KEYS as u64) as u32;
                    let key = cache.get_or_insert_with(id, || SecretKey::derive(id));
                    assert!(!key.is_wiped(), "a key in use was wiped");
                    std::hint::black_box(key.sign(b"request"));
                }
            });
        }
    });
    THREADS * REQUESTS_PER_THREAD
}
