//! What `Cache` and `Pinned` share: the table, the hasher, the default time
//! to live, the weigher, the time to idle and the loads in flight, with the
//! operations both build on.
//! Safe code over `raw/`; `cache/` is the public face.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Duration;

use crate::builder::Weigher;
use crate::clock;
use crate::flight::{Entered, Flights, Handoff, Joined, Leading};
use crate::raw::departures::Departures;
use crate::raw::entry::{Entry, Trailer, Unpublished};
use crate::raw::guarded::Guarded;
use crate::raw::reclaim::{discard_panic, Reclaimer};
use crate::raw::table::Table;
use crate::RemovalCause;

pub(crate) struct CacheCore<K, V, S, R: Reclaimer> {
    pub(crate) table: Table<K, V, R>,
    pub(crate) hasher: S,
    /// The time to live of entries inserted without one of their own.
    pub(crate) time_to_live: Option<Duration>,
    /// Weighs each new entry, with `Table::max_weight` as the bound.
    pub(crate) weigher: Option<Weigher<K, V>>,
    /// How long an entry may go unread.
    pub(crate) time_to_idle: Option<Duration>,
    /// Loads in flight for `get_or_insert_with`, made on first use.
    pub(crate) flights: OnceLock<Flights<K>>,
    /// Keeps the expiry clock's ticker running once an entry has a deadline.
    pub(crate) clock: clock::ClockUser,
}

impl<K, V, S, R> CacheCore<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
    S: BuildHasher,
    R: Reclaimer,
{
    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// A new entry for `key`, with `ttl` or the cache's own time to live,
    /// its weight and its idle deadline.
    ///
    /// The weigher is user code: call this unpinned (or under the user's own
    /// pin). It runs before anything is allocated, so if it panics the key
    /// and value are dropped and nothing else happens.
    fn entry(&self, key: K, value: V, ttl: Option<Duration>) -> Unpublished<K, V> {
        let weight = self.weigher.as_ref().map_or(0, |weigh| weigh(&key, &value));
        let after = |duration: Option<Duration>| match duration {
            Some(duration) => {
                // Deadlines, for a time to live or to idle, are read against
                // the coarse clock: keep its ticker running.
                self.clock.claim();
                clock::deadline_after(duration)
            }
            None => clock::NEVER,
        };
        let trailer = Trailer {
            deadline: after(ttl.or(self.time_to_live)),
            weight,
            idle_deadline: after(self.time_to_idle),
        };
        Unpublished::new(self.table.shape, key, value, trailer)
    }

    fn count_insert(&self) {
        if let Some(stats) = &self.table.hooks.stats {
            stats.insert();
        }
    }

    /// Inserts through `guard`, the user's own pin (the weigher runs under
    /// it); what the insert unlinks goes to `out`.
    pub(crate) fn insert_with(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) {
        let new = self.entry(key, value, ttl);
        self.insert_entry(guard, out, new);
    }

    fn insert_entry(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        new: Unpublished<K, V>,
    ) {
        let hash = self.hash(new.key());
        self.table.insert(guard, out, hash, new);
        self.count_insert();
    }

    /// Inserts under a pin of its own, taken after the weigher ran; the
    /// listener runs after the unpin.
    pub(crate) fn insert(&self, key: K, value: V, ttl: Option<Duration>) {
        if ttl == Some(Duration::ZERO) {
            return self.insert_expired(key, value);
        }
        let new = self.entry(key, value, ttl);
        // Declared before the guard, so dropped after it: the listener runs
        // unpinned.
        let mut departures = self.table.departures();
        let guard = self.table.reclaimer.pin();
        self.insert_entry(&guard, &mut departures, new);
    }

    /// An insert whose entry expires at once (a zero time to live): it
    /// stores nothing, so it evicts nothing. The key's current entry leaves
    /// as `Replaced`, and the new value goes straight to the listener as
    /// `Expired`; both listener calls are made unpinned.
    #[cold]
    fn insert_expired(&self, key: K, value: V) {
        {
            // Declared before the guard, so dropped after it.
            let mut departures = self.table.departures();
            let guard = self.table.reclaimer.pin();
            let hash = self.hash(&key);
            self.table
                .remove(&guard, &mut departures, hash, &key, RemovalCause::Replaced);
        }
        if let Some(listener) = &self.table.hooks.listener {
            // As for every departure: a panicking listener is discarded.
            discard_panic(catch_unwind(AssertUnwindSafe(|| {
                listener(&key, &value, RemovalCause::Expired)
            })));
        }
    }

    /// Removes `key` through `guard`, returning the entry it removed; what
    /// leaves goes to `out`.
    pub(crate) fn remove_with<'g, Q>(
        &self,
        guard: &'g R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        key: &Q,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table
            .remove(guard, out, self.hash(key), key, RemovalCause::Removed)
    }

    /// Looks `key` up and counts the lookup; the entry lives as long as
    /// `guard`.
    #[inline]
    pub(crate) fn lookup<'g, Q>(&self, guard: &'g R::Guard<'_>, key: &Q) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table.lookup(guard, self.hash(key), key)
    }

    /// Runs `per_set` on each set under a pin of its own, with the listener
    /// called after each unpin.
    pub(crate) fn for_each_set(
        &self,
        mut per_set: impl FnMut(&R::Guard<'_>, &mut Departures<'_, K, V, R>, usize),
    ) {
        for set in 0..self.table.set_count() {
            let mut departures = self.table.departures();
            let guard = self.table.reclaimer.pin();
            per_set(&guard, &mut departures, set);
        }
    }

    /// `try_get_or_insert_with`: a lookup, then the flight on a miss.
    #[inline]
    pub(crate) fn get_or_load<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Guarded<'_, K, V, R>, E> {
        let hash = self.hash(&key);
        if let Some(found) = self.table.get_guarded(hash, &key, true) {
            return Ok(found);
        }
        self.load(key, hash, init)
    }

    /// The miss path: wait for the key's flight, or lead one. Entered and
    /// left unpinned; the initializer runs unpinned.
    #[cold]
    #[inline(never)]
    pub(crate) fn load<E>(
        &self,
        mut key: K,
        hash: u64,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<Guarded<'_, K, V, R>, E> {
        let flights = self.flights.get_or_init(Flights::default);
        let leading = loop {
            let guard = self.table.reclaimer.pin();
            let present =
                |guard: &R::Guard<'_>, key: &K| self.table.get(guard, hash, key).is_some();
            match flights.join(hash, key, guard, present) {
                Joined::Present(returned) => {
                    if let Some(found) = self.table.get_guarded(hash, &returned, false) {
                        return Ok(found);
                    }
                    key = returned; // gone again: join again
                }
                Joined::Waited(returned, _handoff) => {
                    #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
                    if let Some(found) = self.table.mutant_guarded(_handoff.entry) {
                        return Ok(found);
                    }
                    key = returned;
                }
                Joined::Lead(leading) => break leading,
            }
        };
        let value = init()?; // an Err or a panic drops `leading`: the flight ends
        Ok(self.land(leading, hash, value))
    }

    /// The leader's last step: inserts `value` for the flight's key and ends
    /// the flight. The result keeps the insert's pin; the listener calls for
    /// what the insert evicted are made when it drops. Called unpinned: the
    /// value is weighed first, and a panicking weigher also ends the flight.
    pub(crate) fn land(
        &self,
        leading: Leading<'_, K>,
        hash: u64,
        value: V,
    ) -> Guarded<'_, K, V, R> {
        let new = self.entry(leading.take_key(), value, None);
        #[cfg_attr(not(epoch_cache_mutant = "flight_keeps_entry"), allow(unused_mut))]
        let mut handoff = Handoff::default();
        let found = self.table.insert_guarded(hash, new, |_entry| {
            #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
            {
                handoff.entry = (_entry as *const Entry<K, V>).expose_provenance();
            }
            #[cfg(test)]
            crate::flight::tests::AFTER_INSERT.with(|hook| hook.take().map(|hook| hook()));
        });
        self.count_insert();
        leading.finish(handoff);
        found
    }

    /// A clone of `key`'s value, under a pin of its own; the lookup is
    /// counted in the statistics if `count`.
    #[inline]
    pub(crate) fn cloned<Q>(&self, hash: u64, key: &Q, count: bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
        V: Clone,
    {
        let guard = self.table.reclaimer.pin();
        let entry = if count {
            self.table.lookup(&guard, hash, key)
        } else {
            self.table.get(&guard, hash, key)
        };
        entry.map(|entry| entry.value.clone())
    }

    /// The async miss path's one step: whether the key is present, has a
    /// flight to await, or is ours to load. Never blocks, and returns
    /// unpinned.
    pub(crate) fn enter_flight(&self, key: K, hash: u64) -> Entered<'_, K> {
        let flights = self.flights.get_or_init(Flights::default);
        let guard = self.table.reclaimer.pin();
        let present = |guard: &R::Guard<'_>, key: &K| self.table.get(guard, hash, key).is_some();
        flights.enter_async(hash, key, guard, present)
    }
}
