//! Single flight: of the callers that miss the same key at once, one loads.
//!
//! Only callers that missed come here; `get` never does. In-flight loads sit
//! in mutex-guarded shards, found by the key's hash and told apart by key
//! equality, so keys whose hashes collide never wait for each other. The
//! first caller to miss a key registers a `Flight` holding the key and leads:
//! it runs its initializer with no lock and no pin held. Later callers of the
//! same key wait, also unpinned, and when it ends they look the key up again.
//! They are never handed the leader's entry: that entry may have been evicted
//! and retired while they slept, and they hold no pin that could keep it
//! alive.
//!
//! Sync and async callers share the flights. A sync waiter blocks on the
//! flight's condition variable (loom's under `epoch_cache_loom`, so the models
//! check this protocol); an async waiter awaits the flight's `Event`
//! (`event-listener`), which never blocks its executor's thread. A leader
//! wakes both kinds when it ends, however it ends: finished, failed,
//! panicked, or, for an async leader, dropped mid-load (its task cancelled),
//! so a waiter always takes over.
//!
//! Whoever calls into this module holds no pin: a pinned thread holds back
//! the reclamation of every thread's garbage, so it must not wait on user
//! code.

use std::hash::Hash;
use std::sync::{Arc, PoisonError};

use event_listener::Event;

use crate::sync::{current_thread, Condvar, Mutex, MutexGuard, ThreadId};

/// Shards of the in-flight list: 64, or 2 under loom (each lock is a modelled
/// object there).
const SHARDS: usize = if cfg!(epoch_cache_loom) { 2 } else { 64 };

/// What a finished flight hands its waiters: nothing. Waiters look the key
/// up again; the leader's entry may be gone, and they hold no pin for it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Handoff {
    /// Mutant: the leader hands its entry's address to the waiters, which use
    /// it without looking the key up again. The loom models must catch this.
    #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
    pub(crate) entry: usize,
}

/// The loads in flight of one cache.
pub(crate) struct Flights<K> {
    shards: Box<[Shard<K>]>,
}

/// The flights whose hashes fall in one shard.
type Shard<K> = Mutex<Vec<Arc<Flight<K>>>>;

impl<K> Default for Flights<K> {
    fn default() -> Self {
        Flights {
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }
}

/// One initializer running for one key.
struct Flight<K> {
    hash: u64,
    /// The leading thread, for a sync leader, whose initializer runs on this
    /// thread's stack until the flight ends; `None` for an async leader,
    /// whose future may move between threads and share one with its waiters.
    leader: Option<ThreadId>,
    state: Mutex<State<K>>,
    /// Notified once, when the state becomes `Finished`: sync waiters.
    finished: Condvar,
    /// Notified once, after `finished`: async waiters.
    finished_async: Event,
}

enum State<K> {
    /// The initializer runs. The key waits here, so that callers can tell
    /// this flight from another key's of the same hash.
    Running(K),
    /// The leader took its key back to insert it: callers of any key of this
    /// hash wait for the insert (a moment, no user code but `Hash` and `Eq`).
    Inserting,
    /// Over: inserted, failed or panicked. Waiters look the key up again.
    Finished(Handoff),
}

/// What a caller that missed should do next.
pub(crate) enum Joined<'f, K> {
    /// The key turned up in the table: look it up (it may be gone again).
    Present(K),
    /// A flight of this key ended while we waited: look it up again.
    Waited(K, Handoff),
    /// No flight of this key: run the initializer, then insert.
    Lead(Leading<'f, K>),
}

/// What an async caller that missed should do next: `Joined`, without the
/// blocking wait.
pub(crate) enum Entered<'f, K> {
    /// The key turned up in the table: look it up (it may be gone again).
    Present(K),
    /// A flight of this key runs: await its end, then look the key up again.
    Wait(K, Waiting<K>),
    /// No flight of this key: run the initializer, then insert.
    Lead(Leading<'f, K>),
}

/// A flight to wait for. Holds no lock and no pin: an async waiter keeps it
/// across its `.await`.
pub(crate) struct Waiting<K> {
    flight: Arc<Flight<K>>,
}

/// Locks, ignoring poison: every critical section here leaves its data
/// consistent (a push, a search, a removal, a state change), so a panic in
/// one (a user's `Eq`) breaks nothing.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K> Flights<K> {
    fn shard(&self, hash: u64) -> MutexGuard<'_, Vec<Arc<Flight<K>>>> {
        lock(&self.shards[(hash >> 58) as usize % SHARDS])
    }
}

impl<K: Hash + Eq> Flights<K> {
    /// Joins the flight of `key`, or leads a new one.
    ///
    /// `present` looks the key up in the table through `guard`, a pin the
    /// caller took before calling; it runs under the shard lock, which
    /// settles the race with a leader that just finished (a leader inserts
    /// before it leaves the shard, so a key absent here has no finished
    /// flight). Pinning and unpinning may run reclamation, and so values'
    /// `Drop`, so neither happens under the lock: `guard` is dropped once
    /// the lock is released, before any wait. Waits, unpinned, for a flight
    /// of `key` to finish.
    ///
    /// # Panics
    ///
    /// If this thread already leads a flight of `key`: a call from inside
    /// the key's own initializer would wait for itself for ever.
    pub(crate) fn join<G>(
        &self,
        hash: u64,
        key: K,
        guard: G,
        present: impl FnOnce(&G, &K) -> bool,
    ) -> Joined<'_, K> {
        match self.enter(hash, key, guard, present, Leader::Thread) {
            Entered::Present(key) => Joined::Present(key),
            Entered::Wait(key, waiting) => Joined::Waited(key, waiting.flight.wait()),
            Entered::Lead(leading) => Joined::Lead(leading),
        }
    }

    /// `join` for an async caller: never blocks (but for the shard and state
    /// locks, held for a few comparisons), and a flight it leads belongs to
    /// no thread.
    ///
    /// # Panics
    ///
    /// As `join`: if this thread leads a sync flight of `key` (the call
    /// comes from inside that flight's initializer).
    pub(crate) fn enter_async<G>(
        &self,
        hash: u64,
        key: K,
        guard: G,
        present: impl FnOnce(&G, &K) -> bool,
    ) -> Entered<'_, K> {
        self.enter(hash, key, guard, present, Leader::Task)
    }

    fn enter<G>(
        &self,
        hash: u64,
        key: K,
        guard: G,
        present: impl FnOnce(&G, &K) -> bool,
        leader: Leader,
    ) -> Entered<'_, K> {
        let mut shard = self.shard(hash);
        if present(&guard, &key) {
            drop(shard);
            drop(guard);
            return Entered::Present(key);
        }
        let me = Some(current_thread().id());
        let mut ours = None;
        for flight in shard.iter().filter(|f| f.hash == hash) {
            let same_key = match &*lock(&flight.state) {
                State::Running(theirs) => *theirs == key,
                // Maybe ours; it ends in a moment. (Never our own: a leader
                // inserting runs no initializer that could call back here,
                // and an async one inserts within one poll.)
                State::Inserting => flight.leader != me,
                State::Finished(_) => false,
            };
            if same_key {
                assert!(
                    flight.leader != me,
                    "epoch-cache: get_or_insert_with called again for the same key from inside its \
                     own initializer; it would wait for itself for ever"
                );
                ours = Some(Arc::clone(flight));
                break;
            }
        }
        if let Some(flight) = ours {
            drop(shard);
            drop(guard);
            return Entered::Wait(key, Waiting { flight });
        }
        let flight = Arc::new(Flight {
            hash,
            leader: match leader {
                Leader::Thread => me,
                Leader::Task => None,
            },
            state: Mutex::new(State::Running(key)),
            finished: Condvar::new(),
            finished_async: Event::new(),
        });
        shard.push(Arc::clone(&flight));
        drop(shard);
        drop(guard);
        Entered::Lead(Leading {
            flights: self,
            flight,
            finished: false,
        })
    }
}

/// Who leads a new flight: this thread (a sync caller) or a task.
#[derive(Clone, Copy)]
enum Leader {
    Thread,
    Task,
}

impl<K> Waiting<K> {
    /// Waits, without blocking the thread, until the flight is `Finished`.
    pub(crate) async fn finished(self) -> Handoff {
        loop {
            if let Some(handoff) = self.flight.handoff() {
                return handoff;
            }
            // Listen before checking again: a leader sets `Finished` under
            // the state lock and notifies after releasing it, so either the
            // check below sees `Finished`, or the listener was registered
            // before that lock was taken, and so before the notification.
            let listener = self.flight.finished_async.listen();
            if let Some(handoff) = self.flight.handoff() {
                return handoff;
            }
            listener.await;
        }
    }
}

impl<K> Flight<K> {
    /// The handoff, if the flight is `Finished`.
    fn handoff(&self) -> Option<Handoff> {
        match &*lock(&self.state) {
            State::Finished(handoff) => Some(*handoff),
            _ => None,
        }
    }

    /// Blocks until the flight is `Finished`.
    fn wait(&self) -> Handoff {
        let mut state = lock(&self.state);
        loop {
            if let State::Finished(handoff) = &*state {
                return *handoff;
            }
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The leader's duty: take the key back to insert it, then finish the
/// flight. Dropped unfinished (the initializer failed or panicked, or the
/// async leader's future was dropped), it finishes the flight itself and the
/// waiters load for themselves. Holds no lock and no pin: an async leader
/// keeps it across the `.await` of its loader.
pub(crate) struct Leading<'f, K> {
    flights: &'f Flights<K>,
    flight: Arc<Flight<K>>,
    finished: bool,
}

impl<K> Leading<'_, K> {
    /// Takes the key back for the insert. From here until `finish`, callers
    /// of any key of this hash wait.
    pub(crate) fn take_key(&self) -> K {
        match std::mem::replace(&mut *lock(&self.flight.state), State::Inserting) {
            State::Running(key) => key,
            _ => unreachable!("a flight's key is taken once, by its leader"),
        }
    }

    /// Ends the flight: call once the entry is inserted.
    pub(crate) fn finish(mut self, handoff: Handoff) {
        self.end(handoff);
        self.finished = true;
    }

    fn end(&self, handoff: Handoff) {
        // Leave the shard first: a caller that finds neither the flight nor
        // the key may then lead anew, and one that found the flight wakes
        // below.
        self.flights
            .shard(self.flight.hash)
            .retain(|f| !Arc::ptr_eq(f, &self.flight));
        let previous = std::mem::replace(&mut *lock(&self.flight.state), State::Finished(handoff));
        self.flight.finished.notify_all();
        self.flight.finished_async.notify(usize::MAX);
        // An unused key (the initializer failed) is dropped here, with no
        // lock held.
        drop(previous);
    }
}

impl<K> Drop for Leading<'_, K> {
    /// The initializer failed or panicked, or the leading future was
    /// dropped: end the flight with no entry.
    fn drop(&mut self) {
        if !self.finished {
            self.end(Handoff::default());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::{Cache, DefaultHashBuilder, Reclaimer};

    thread_local! {
        /// Runs on the leader's thread between its insert and `finish`.
        pub(crate) static AFTER_INSERT: Cell<Option<Box<dyn FnOnce()>>> = const { Cell::new(None) };
    }

    /// A caller that joins a flight after the leader inserted must look the
    /// key up again, not use the leader's entry: that entry may have been
    /// evicted and retired before the caller could pin (a use-after-free once
    /// it is reclaimed). Here it is evicted before the late caller arrives,
    /// so the late caller must miss and run its own initializer.
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
