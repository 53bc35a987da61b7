//! A bounded concurrent cache whose reads take no lock and touch no reference
//! count.
//!
//! Entries live behind atomic pointers in a fixed table of 64-byte sets. A
//! reader pins an epoch guard and follows a pointer; an entry that is evicted,
//! replaced or removed is unlinked with one compare-and-swap and freed only
//! once no guard can still see it. So a reader never waits for a writer, never
//! writes a shared counter, and can never see freed memory.
//!
//! # Quick start
//!
//! ```
//! use epoch_cache::Cache;
//!
//! let cache: Cache<u64, String> = Cache::new(10_000);
//! cache.insert(1, "one".to_string());
//!
//! // A guarded reference: valid while it lives, even if the entry is evicted.
//! if let Some(value) = cache.get(&1) {
//!     assert_eq!(value.as_str(), "one");
//! }
//! // Or a clone, or many reads under one pin.
//! assert_eq!(cache.get_cloned(&1).as_deref(), Some("one"));
//! let pinned = cache.pin();
//! assert_eq!(pinned.get(&1).map(String::len), Some(3));
//! ```
//!
//! # Reading
//!
//! - [`Cache::get`] returns a [`Ref`], which derefs to the value and holds the
//!   epoch pin that keeps it alive. Lookups take `&Q` where `K: Borrow<Q>`,
//!   like `HashMap` (a `Cache<String, _>` is looked up with `&str`).
//! - [`Cache::get_cloned`] clones the value out and unpins at once.
//! - [`Cache::pin`] pins once for a batch: [`Pinned::get`] returns plain
//!   `&V` borrowed from the pin, the cheapest way to read many keys.
//!
//! A held `Ref` or `Pinned` delays the reclamation of everything retired
//! anywhere in the cache while it lives (that is what makes it safe), so hold
//! one for a request or a batch, not for ever. For a handle that lives long,
//! store `Arc<V>` and take [`Cache::get_cloned`]: the count is taken while
//! the entry is protected, and no pin outlives the call.
//!
//! # Writing
//!
//! [`Cache::insert`] replaces the value of a present key or adds the key,
//! evicting an entry of the key's two candidate sets when the cache is full.
//! [`Cache::remove`], [`Cache::clear`], [`Cache::retain`] and
//! [`Cache::purge_expired`] unlink entries. Every write is a compare-and-swap
//! on one slot; none takes a lock.
//!
//! # What else users of moka and quick_cache rely on
//!
//! ```
//! use epoch_cache::{Cache, RemovalCause};
//! use std::time::Duration;
//!
//! let cache: Cache<String, Vec<u8>> = Cache::builder()
//!     .capacity(100_000)
//!     .time_to_live(Duration::from_secs(60)) // per cache; insert_with_ttl per entry
//!     .eviction_listener(|key: &String, _value: &Vec<u8>, cause: RemovalCause| {
//!         let _ = (key, cause); // called once per departure, after the unlink
//!     })
//!     .record_stats(true)
//!     .build()?;
//!
//! // Single flight: of many threads missing the same key at once, one loads.
//! let value = cache.get_or_insert_with("config".to_string(), || b"loaded".to_vec());
//! assert_eq!(value.as_slice(), b"loaded");
//! drop(value);
//!
//! for entry in cache.iter() {
//!     assert_eq!(entry.key(), "config");
//! }
//! assert_eq!(cache.stats().inserts, 1);
//! # Ok::<(), epoch_cache::BuildError>(())
//! ```
//!
//! - **Single flight**: [`Cache::get_or_insert_with`] and
//!   [`Cache::try_get_or_insert_with`], per key (keys whose hashes collide
//!   never wait for each other), and their async twins (see "Async use"
//!   below). Initializers run and waiters wait with no pin held. A panicking
//!   or failing initializer affects only its caller; a waiter then runs its
//!   own. [`Cache::get_or_insert_with_ref`] takes the key by reference and
//!   owns it only to insert it (a hit on a `String` key allocates nothing).
//! - **Reads that are no access**: [`Cache::peek`] and
//!   [`Cache::contains_key`] touch neither the eviction policy nor the
//!   statistics, as moka's `contains_key`; [`Cache::remove`] returns the
//!   removed entry, like `HashMap::remove`.
//! - **Time to live**, per cache or per entry ([`Cache::insert_with_ttl`]). An
//!   entry with a deadline costs 8 more bytes; `get` checks it against a coarse
//!   millisecond clock advanced by a background thread (one relaxed load), and
//!   against the precise clock only in the last 32 ms before the deadline.
//!   Entries without a deadline never read a clock, and the thread runs only
//!   while a cache that gave an entry a deadline lives. A zero time to live
//!   means "expires at once" (see [`Cache::insert_with_ttl`]).
//! - **Weighted capacity** ([`Builder::max_weight`] with
//!   [`Builder::weigher`]): a bound on the total weight of the entries (bytes,
//!   say) as well as on their number. [`Cache::weight`] never exceeds it, at
//!   any instant: an insert reserves its entry's weight before linking it,
//!   evicting by the policy until it fits (first from the key's two sets,
//!   then from any set), and whoever unlinks an entry gives its weight back.
//!   An entry heavier than the bound is never stored; it goes straight to
//!   the listener as [`RemovalCause::Evicted`]. A weight of 0 is allowed
//!   (the entry still counts against the capacity). The weigher runs once
//!   per insert, before anything is reserved, with no pin held; if it
//!   panics, the panic reaches the inserting caller, the value is dropped
//!   and the cache is unchanged. Each entry costs 8 more bytes.
//! - **Time to idle** ([`Builder::time_to_idle`]): an entry not read for the
//!   idle time is never returned, and leaves as `Expired` when its set is
//!   next written, or by `retain` or `purge_expired`. A read pushes the idle
//!   deadline back from the coarse clock, storing (one relaxed store to the
//!   entry) only once the clock has moved an eighth of the idle time, so a
//!   hot entry's hits store nothing in all but a few; an entry may thus
//!   expire up to an eighth early, never late. With a time to live,
//!   whichever comes first wins. Each entry costs 8 more bytes.
//! - **Eviction listener** with a [`RemovalCause`]: called exactly once for
//!   each entry that leaves, on the thread that unlinked it, once that
//!   thread has unpinned.
//! - **Statistics** ([`CacheStats`]): per-thread counters, so a hit writes
//!   only its own thread's; disabled, they cost a branch.
//! - **Iteration** ([`Cache::iter`]) and [`Cache::retain`], weakly consistent
//!   and safe alongside writers: an entry present throughout is seen once.
//! - **Parallel bulk operations** with the `rayon` feature: `par_iter`,
//!   `par_retain`, `par_extend`.
//!
//! # Async use
//!
//! The crate depends on no async runtime. [`Cache::get_or_insert_async`] and
//! [`Cache::try_get_or_insert_async`] load with a future, under the same
//! single flight as the sync loaders (a sync and an async caller of one key
//! share one load). Their waiters never block their thread, and if the
//! leading task is dropped (aborted, timed out) a waiter takes over at once.
//!
//! A [`Ref`] is a guard: it holds an epoch pin, is `!Send`, and must not
//! live across an `.await` (it would hold back reclamation for as long as
//! the task sleeps, and make the task `!Send`). So async code takes clones:
//! the async loaders return `V`, and [`Cache::get_cloned`] reads one. Store
//! `Arc<V>` values to make the clone a reference count. The futures hold no
//! pin and no lock across an `.await` and are `Send` whenever the key, the
//! value, the hasher and the loader are, so they work in `tokio::spawn`.
//!
//! ```
//! use epoch_cache::Cache;
//! use std::sync::Arc;
//!
//! async fn profile(cache: &Cache<u64, Arc<String>>, id: u64) -> Arc<String> {
//!     // Only a clone crosses the `.await`s below, never a `Ref`.
//!     if let Some(hit) = cache.get_cloned(&id) {
//!         return hit;
//!     }
//!     cache
//!         .get_or_insert_async(id, async move { Arc::new(format!("profile {id}")) })
//!         .await
//! }
//!
//! let cache: Cache<u64, Arc<String>> = Cache::new(1_000);
//! // Any executor runs it: tokio, smol, or a plain `block_on`.
//! let loaded = pollster::block_on(profile(&cache, 7));
//! assert_eq!(loaded.as_str(), "profile 7");
//! assert!(Arc::ptr_eq(&loaded, &cache.get_cloned(&7).unwrap()));
//! ```
//!
//! # Guarantees
//!
//! These hold for both reclamation backends, are tested on both, and are
//! checked by loom models of the real protocol, Miri, AddressSanitizer,
//! ThreadSanitizer, LeakSanitizer and cargo-fuzz (see the README, "How it is
//! verified"):
//!
//! - **No use after free, no double free, no leak.** Every value ever
//!   inserted is dropped exactly once, and all of them are dropped by the time
//!   the cache is dropped (each cache has its own collector, which the cache
//!   drains when it goes).
//! - **Bounded.** `len() <= capacity()` at every instant, even under
//!   concurrent inserts: a new key takes a ticket from a counter that never
//!   passes the capacity, or replaces a victim in one CAS. With a weigher,
//!   `weight() <= max_weight` likewise, and `weight()` is the weigher's sum
//!   over the entries once no insert is in flight.
//! - **No stale reads.** A `get` returns a value inserted for that key and not
//!   replaced or removed before the `get` began. A key is visible in at most
//!   one slot at any instant, even when threads race to insert it: see
//!   "Design".
//! - **Reads never block and never write shared memory** on a hit once the
//!   entry's policy bits are saturated; writes never block readers.
//! - **Bounded garbage, whatever user code does.** The crate never holds an
//!   epoch pin on your behalf while your code runs: initializers run
//!   unpinned, single-flight waiters wait unpinned, and the eviction listener
//!   runs after the unlinking thread has unpinned. So entries retired but not
//!   yet freed stay within a small multiple of the capacity under churn, even
//!   while an initializer or a listener takes seconds (tested: at most twice
//!   the capacity while 300,000 inserts churn a 1,000-entry cache). With
//!   several writers the bound is in time rather than in entries: a writer
//!   descheduled in the middle of an operation (pinned) holds back what the
//!   others retire meanwhile, about one scheduler time slice of their
//!   inserts, whatever the capacity (tested: two writers of 1,000,000 inserts
//!   each peak far below a quarter of their churn). Only a
//!   key's `Hash` and `Eq` and the predicate of `retain` run pinned. A pin
//!   you hold yourself (a [`Ref`], also from [`Iter`], or a [`Pinned`]) holds back
//!   reclamation while it lives, as with any epoch scheme (see [`Cache`],
//!   "What runs pinned"); one held for ever (a leaked `Ref`) holds it back
//!   for good, and its garbage then outlives the cache (a leak, never a use
//!   after free).
//! - **Seize backend caveat.** Do not keep a `Ref`, `Pinned` or `Iter` of a
//!   [`Seize`]-backed cache in thread-local storage (see [`Seize`]); the
//!   default backend has no such limitation.
//! - **Panics.** A panic in a key's `Hash` or `Eq` leaves the table intact
//!   and leaks nothing. A panic in a value's `Drop` during reclamation, or in
//!   the eviction listener, is caught and discarded (the memory is freed);
//!   one during unwinding from another panic aborts, as everywhere in Rust.
//!
//! What is *not* promised: an insert may be evicted at once (it is a cache),
//! and of two threads inserting the same absent key at the same moment, one
//! value wins and the other is dropped without ever being visible (and
//! without a listener call, since it never entered).
//!
//! # Design
//!
//! - **Table.** A fixed array of sets, sized once (about 1.25 slots per unit
//!   of capacity) and never resized. A set is seven slot words and one policy
//!   word: one cache line. A key hashes to two sets and lives in at most one
//!   slot of them, so a lookup reads at most two cache lines plus the entry.
//! - **Slot words.** A pointer to a heap entry, with eight bits of the key's hash packed into
//!   bits 48 to 55 as a tag (so only slots whose tag matches are
//!   dereferenced), a *pending* bit and a *timed* bit in the low bits. Tag and
//!   pointer change in the same CAS, so a tag can never be stale.
//! - **Entries.** The key and the value, nothing else, unless the entry or
//!   the cache needs more: then a trailer of 64-bit words follows, holding
//!   in order the time-to-live deadline (per entry: the slot word's timed
//!   bit says whether it is there), the weight (every entry of a cache with
//!   a weigher) and the idle deadline (every entry of a cache with a time to
//!   idle, the only word that changes after publication). A cache's options
//!   are fixed when it is built, so they and the timed bit say which layout
//!   each entry was allocated with.
//! - **Inserting a new key** links the entry as *pending* (invisible to
//!   readers), issues a SeqCst fence and rescans both sets for another copy of
//!   the key. Of two racing copies the one in the lower slot wins and the
//!   other is unlinked before it ever becomes visible; a visible copy always
//!   wins. Only then is the pending bit cleared.
//! - **Eviction** picks, among the visible entries of the key's two sets, a
//!   newcomer not hit since its insert, else the least frequent entry
//!   (two-bit counters per slot, aged by a per-set CLOCK hand). A key that a
//!   small ghost table of recent inserts remembers skips the newcomer stage.
//!   The policy lives in its own module, behind a narrow seam.
//! - **Reclamation** sits behind the sealed [`Reclaimer`] trait:
//!   [`Crossbeam`] (crossbeam-epoch, the default, which loom can model) or
//!   [`Seize`]. Each cache owns its collector.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `rayon` | no      | `par_iter`, `par_retain` and `par_extend` on [`Cache`] |
//!
//! # Platform
//!
//! On 64-bit x86 and AArch64 the tag uses address bits 48 to 55, which user
//! space leaves zero under the default memory maps (bits 56 to 63, which
//! AArch64 top-byte tagging uses, are untouched). If an allocation ever came
//! back above that range, `insert` panics with a message saying so rather than
//! corrupt a pointer. Elsewhere the tag is compiled out and every occupied
//! slot of the two sets is compared.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod builder;
mod cache;
mod cache_core;
mod clock;
mod error;
mod flight;
mod iter;
mod raw;
#[cfg(feature = "rayon")]
mod rayon_impls;
mod refs;
mod removal;
mod stats;
mod sync;

pub use builder::{Builder, DefaultHashBuilder};
pub use cache::Cache;
pub use error::BuildError;
pub use iter::Iter;
#[cfg(not(epoch_cache_loom))]
pub use raw::reclaim::Seize;
pub use raw::reclaim::{Crossbeam, CrossbeamGuard, DefaultReclaimer, Reclaimer};
pub use refs::{Pinned, Ref};
pub use removal::RemovalCause;
pub use stats::CacheStats;
