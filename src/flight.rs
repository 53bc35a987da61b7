//! Single flight for `get_or_insert_with`: one initializer per absent key.
//!
//! Only callers that miss touch this module; `get` never does, so a waiter
//! holds nothing a reader needs. In-flight loads sit in 64 mutex-guarded
//! shards, keyed by the key's 64-bit hash: the first caller to miss registers
//! a `Flight` and runs its initializer without any lock held; later callers
//! find the flight and wait on its condition variable.
//!
//! A waiter pins, then joins the flight under its state lock. The leader moves
//! the flight from `Running` to `Inserting` under the same lock before it
//! allocates its entry, so every waiter that joined while the flight was
//! `Running` pinned before the entry existed: even if the entry is evicted at
//! once, it cannot be freed before such a waiter's pin ends, and the waiter
//! gets a `Ref` to the very entry the leader inserted. A caller that finds the
//! flight already `Inserting` or `Done` never touches the leader's pointer (it
//! may have been retired before that caller pinned); it waits for the outcome
//! and looks the key up again.

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
    /// The initializer runs; callers that join now may use the entry.
    Running,
    /// The leader is inserting; callers that join now must look up again.
    Inserting,
    /// The leader inserted this entry (readable by the waiters that joined
    /// while `Running`, see above).
    Done(NonNull<Entry<K, V>>),
    /// The initializer panicked or failed: waiters try again themselves.
    Abandoned,
}

// SAFETY: `Done`'s pointer is only dereferenced by waiters whose pin predates
// the entry's allocation (module docs), and the entry's K and V are Send + Sync as a
// `Cache` requires; everything else in a flight is plain owned data.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Flight<K, V> {}
// SAFETY: as for Send.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Flight<K, V> {}

impl<K, V> Flight<K, V> {
    fn lock(&self) -> MutexGuard<'_, State<K, V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the flight and waits for its outcome. Returns the leader's entry
    /// only if this caller joined while the flight was `Running` (and so
    /// pinned before the entry was allocated); `None` means "look up again".
    fn join_and_wait(&self) -> Option<NonNull<Entry<K, V>>> {
        let mut state = self.lock();
        let joined_in_time = matches!(*state, State::Running);
        loop {
            match *state {
                State::Running | State::Inserting => {
                    state = self
                        .done
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                State::Done(entry) => return joined_in_time.then_some(entry),
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
    /// Closes the flight to joiners whose pin could postdate the entry: call
    /// before allocating it.
    fn begin_insert(&self) {
        *self.flight.lock() = State::Inserting;
    }

    fn finish(&self, outcome: State<K, V>) {
        self.flights
            .shard(self.flight.hash)
            .retain(|f| !Arc::ptr_eq(f, &self.flight));
        *self.flight.lock() = outcome;
        self.flight.done.notify_all();
    }
}

impl<K, V> Drop for Leading<'_, K, V> {
    fn drop(&mut self) {
        let unfinished = matches!(*self.flight.lock(), State::Running | State::Inserting);
        if unfinished {
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
    #[inline]
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
    #[inline]
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Ref<'_, K, V, R>, E> {
        let hash = self.hash(&key);
        let guard = self.table.reclaimer.pin();
        if let Some(entry) = self.lookup(&guard, hash, &key) {
            // SAFETY: loaded through `guard`, which the Ref keeps.
            return Ok(unsafe { Ref::new(NonNull::from(entry), guard) });
        }
        self.load(key, hash, guard, init)
    }

    /// The miss path of `try_get_or_insert_with`: join or lead a flight.
    #[cold]
    #[inline(never)]
    fn load<'a, E>(
        &'a self,
        key: K,
        hash: u64,
        guard: R::Guard<'a>,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Ref<'a, K, V, R>, E> {
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
                match flight.join_and_wait() {
                    // SAFETY: given only to a caller that joined while `Running`,
                    // after pinning `guard`, so before the leader allocated it
                    // (module docs): any retire follows our pin; `guard` protects.
                    Some(entry) if unsafe { entry.as_ref() }.key == key => {
                        // SAFETY: as just said, protected by `guard`.
                        return Ok(unsafe { Ref::new(entry, guard) });
                    }
                    // Abandoned, joined too late to use the entry, or another
                    // key with the same hash: look up again.
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
            leading.begin_insert();
            let entry = self.insert_entry(&guard, key, value, None);
            #[cfg(test)]
            tests::AFTER_INSERT.with(|hook| hook.take().map(|hook| hook()));
            leading.finish(State::Done(entry));
            // SAFETY: `insert_entry` returned an entry readable through `guard`.
            return Ok(unsafe { Ref::new(entry, guard) });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::{Cache, DefaultHashBuilder, Reclaimer};

    thread_local! {
        /// Runs on the leader's thread between its insert and `finish`.
        pub(super) static AFTER_INSERT: Cell<Option<Box<dyn FnOnce()>>> = const { Cell::new(None) };
    }

    /// A caller that joins a flight after the leader inserted must not be
    /// handed the leader's entry: that entry may have been evicted and retired
    /// before the caller pinned (a use-after-free once it is reclaimed). Here
    /// it is evicted before the late caller arrives, so the late caller must
    /// look up again, miss, and run its own initializer.
    fn late_joiner_looks_up_again<R: Reclaimer>() {
        let cache: Cache<u64, &str, DefaultHashBuilder, R> = Cache::builder()
            .capacity(1)
            .reclaimer::<R>()
            .build()
            .unwrap();
        let (inserted_tx, inserted_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let leader = s.spawn(|| {
                AFTER_INSERT.with(|hook| {
                    hook.set(Some(Box::new(move || {
                        inserted_tx.send(()).unwrap();
                        go_rx.recv().unwrap();
                    })))
                });
                *cache.get_or_insert_with(7, || "leader")
            });
            inserted_rx.recv().unwrap();
            cache.insert(8, "evicts 7"); // capacity 1: the leader's entry goes
            assert!(!cache.contains_key(&7));
            let late = s.spawn(|| *cache.get_or_insert_with(7, || "late"));
            std::thread::sleep(Duration::from_millis(100)); // let it join
            go_tx.send(()).unwrap();
            assert_eq!(leader.join().unwrap(), "leader");
            assert_eq!(
                late.join().unwrap(),
                "late",
                "the late caller used the leader's evicted entry"
            );
        });
    }

    // One module per backend; crossbeam's tests are named `crossbeam::` so
    // that the strict-provenance Miri runs can skip them (crossbeam-epoch
    // itself turns integers into pointers).
    mod seize {
        #[test]
        fn late_joiner_looks_up_again() {
            super::late_joiner_looks_up_again::<crate::Seize>()
        }
    }

    mod crossbeam {
        #[test]
        fn late_joiner_looks_up_again() {
            super::late_joiner_looks_up_again::<crate::Crossbeam>()
        }
    }
}
