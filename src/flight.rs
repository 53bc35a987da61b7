//! Single flight for `get_or_insert_with`: one initializer per absent key.
//!
//! Only callers that miss touch this module; `get` never does, so a waiter
//! holds nothing a reader needs. In-flight loads sit in 64 mutex-guarded
//! shards, keyed by the key's 64-bit hash: the first caller to miss registers
//! a `Flight` and runs its initializer without any lock held; later callers
//! find the flight and wait on its condition variable.
//!
//! A waiter pins before it waits. The leader's entry is allocated after that,
//! so even if it is evicted at once, it cannot be freed before the waiter's pin
//! ends: every waiter gets a `Ref` to the very entry the leader inserted.

use std::hash::{BuildHasher, Hash};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use crate::cache::Cache;
use crate::raw::entry::Entry;
use crate::raw::reclaim::Reclaimer;
use crate::refs::Ref;

const SHARDS: usize = 64;

/// The loads in flight of one cache.
pub(crate) struct Flights<K, V> {
    shards: Box<[Shard<K, V>]>,
}

/// The flights whose hashes fall in one shard.
type Shard<K, V> = Mutex<Vec<Arc<Flight<K, V>>>>;

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Flights {
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }
}

impl<K, V> Flights<K, V> {
    fn shard(&self, hash: u64) -> MutexGuard<'_, Vec<Arc<Flight<K, V>>>> {
        // A panic while holding a shard lock cannot leave the list inconsistent
        // (each critical section is one push, search or removal), so poisoning
        // is ignored.
        self.shards[(hash >> 58) as usize % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One initializer running for one key hash.
struct Flight<K, V> {
    hash: u64,
    leader: ThreadId,
    state: Mutex<State<K, V>>,
    done: Condvar,
}

enum State<K, V> {
    Running,
    /// The leader inserted this entry (readable by every waiter, see above).
    Done(NonNull<Entry<K, V>>),
    /// The initializer panicked or failed: waiters try again themselves.
    Abandoned,
}

// SAFETY: `Done`'s pointer is only dereferenced by waiters whose pin predates
// the entry (module docs), and the entry's K and V are Send + Sync as a
// `Cache` requires; everything else in a flight is plain owned data.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Flight<K, V> {}
// SAFETY: as for Send.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Flight<K, V> {}

impl<K, V> Flight<K, V> {
    fn wait(&self) -> Option<NonNull<Entry<K, V>>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match *state {
                State::Running => {
                    state = self
                        .done
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                State::Done(entry) => return Some(entry),
                State::Abandoned => return None,
            }
        }
    }
}

/// The leader's duty: finish the flight, or abandon it if the initializer
/// fails or panics (on drop).
struct Leading<'a, K, V> {
    flights: &'a Flights<K, V>,
    flight: Arc<Flight<K, V>>,
}

impl<K, V> Leading<'_, K, V> {
    fn finish(&self, outcome: State<K, V>) {
        self.flights
            .shard(self.flight.hash)
            .retain(|f| !Arc::ptr_eq(f, &self.flight));
        *self
            .flight
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = outcome;
        self.flight.done.notify_all();
    }
}

impl<K, V> Drop for Leading<'_, K, V> {
    fn drop(&mut self) {
        let running = matches!(
            *self
                .flight
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            State::Running
        );
        if running {
            self.finish(State::Abandoned);
        }
    }
}

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Returns `key`'s value, inserting `init()` if it is absent; of many
    /// threads asking at once for the same absent key, one runs its `init`
    /// and all get that one value.
    ///
    /// - A panic in `init` reaches only its own caller and leaves no entry;
    ///   one waiting caller then runs its own `init`.
    /// - `init` may use the cache for other keys. Asking for the same key from
    ///   inside its own `init` panics (it could never finish).
    /// - Waiters block on a condition variable, never on anything `get`
    ///   needs; while they wait they hold an epoch pin, which delays the
    ///   reclamation of entries retired meanwhile.
    /// - On a present key it costs what [`get`](Self::get) costs.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, String> = Cache::new(100);
    /// let v = cache.get_or_insert_with(7, || "seven".to_string());
    /// assert_eq!(v.as_str(), "seven");
    /// drop(v);
    /// let again = cache.get_or_insert_with(7, || unreachable!("present"));
    /// assert_eq!(again.as_str(), "seven");
    /// ```
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> Ref<'_, K, V, R> {
        match self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(init())) {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), for an
    /// initializer that can fail: an `Err` goes to its own caller and inserts
    /// nothing, and the callers waiting on it retry with their own `init`.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// let failed = cache.try_get_or_insert_with(1, || Err("backend down"));
    /// assert_eq!(failed.unwrap_err(), "backend down");
    /// assert!(!cache.contains_key(&1));
    /// let v = cache.try_get_or_insert_with(1, || Ok::<_, &str>(10))?;
    /// assert_eq!(*v, 10);
    /// # Ok::<(), &str>(())
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Ref<'_, K, V, R>, E> {
        let hash = self.hash(&key);
        let guard = self.table.reclaimer.pin();
        if let Some(entry) = self.table.get(&guard, hash, &key) {
            self.record_lookup(true);
            // SAFETY: loaded through `guard`, which the Ref keeps.
            return Ok(unsafe { Ref::new(NonNull::from(entry), guard) });
        }
        self.record_lookup(false);
        let flights = self.flights.get_or_init(Flights::default);
        loop {
            let mut shard = flights.shard(hash);
            // Re-check under the shard lock: a leader inserts before it removes
            // its flight, so a key missing here has no finished flight.
            if let Some(entry) = self.table.get(&guard, hash, &key) {
                drop(shard);
                // SAFETY: loaded through `guard`, which the Ref keeps.
                return Ok(unsafe { Ref::new(NonNull::from(entry), guard) });
            }
            if let Some(flight) = shard.iter().find(|f| f.hash == hash).cloned() {
                drop(shard);
                assert!(
                    flight.leader != thread::current().id(),
                    "epoch-cache: get_or_insert_with called again for the same key from inside its own \
                     initializer; it would wait for itself for ever"
                );
                match flight.wait() {
                    // SAFETY: the entry was allocated after `guard` was pinned
                    // (we pinned before finding the flight), so it is live.
                    Some(entry) if unsafe { entry.as_ref() }.key == key => {
                        // SAFETY: as just said, protected by `guard`.
                        return Ok(unsafe { Ref::new(entry, guard) });
                    }
                    // Abandoned, or another key with the same hash: try again.
                    _ => continue,
                }
            }
            let flight = Arc::new(Flight {
                hash,
                leader: thread::current().id(),
                state: Mutex::new(State::Running),
                done: Condvar::new(),
            });
            shard.push(Arc::clone(&flight));
            drop(shard);
            let leading = Leading { flights, flight };
            let value = init()?; // an Err or a panic abandons the flight (drop)
            let entry = self.insert_entry(&guard, key, value, None);
            leading.finish(State::Done(entry));
            // SAFETY: `insert_entry` returned an entry readable through `guard`.
            return Ok(unsafe { Ref::new(entry, guard) });
        }
    }
}
