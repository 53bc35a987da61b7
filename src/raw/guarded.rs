//! Guard-bound entries: an entry together with the pin that keeps it alive,
//! the raw half of `Ref` and of `Iter`. Only this module builds one, and
//! only from an entry it has just loaded through the guard it keeps, so the
//! safe face wraps them without any `unsafe` of its own.

use std::borrow::Borrow;
use std::ptr::NonNull;

use super::departures::Departures;
use super::entry::{Entry, Unpublished};
use super::reclaim::Reclaimer;
use super::table::Table;
use crate::RemovalCause;

/// An entry and the guard that keeps it allocated.
pub(crate) struct Guarded<'a, K, V, R: Reclaimer> {
    // Invariant: points to an entry loaded through `_guard`, or through a
    // guard of this thread that was alive when `_guard` was pinned: it stays
    // allocated while `_guard` lives.
    entry: NonNull<Entry<K, V>>,
    _guard: R::Guard<'a>,
    /// What the insert behind this entry unlinked (`get_or_insert_with`):
    /// shown to the listener and retired once `_guard` is dropped (fields drop
    /// in declaration order), so that the listener runs unpinned.
    _departures: Option<Box<Departures<'a, K, V, R>>>,
}

impl<K, V, R: Reclaimer> Guarded<'_, K, V, R> {
    #[inline]
    pub(crate) fn key(&self) -> &K {
        // SAFETY: the entry is alive while the guard is (type invariant), and
        // the borrow cannot outlive `self`, which holds the guard.
        unsafe { &self.entry.as_ref().key }
    }

    #[inline]
    pub(crate) fn value(&self) -> &V {
        // SAFETY: as in `key`.
        unsafe { &self.entry.as_ref().value }
    }
}

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// Looks `key` up under a pin of its own, counting the lookup in the
    /// statistics if `count`.
    #[inline]
    pub(crate) fn get_guarded<Q>(
        &self,
        hash: u64,
        key: &Q,
        count: bool,
    ) -> Option<Guarded<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let guard = self.reclaimer.pin();
        let entry = if count {
            self.lookup(&guard, hash, key)
        } else {
            self.get(&guard, hash, key)
        };
        let entry = NonNull::from(entry?);
        // `entry` was loaded through `guard`, which the result keeps.
        Some(Guarded {
            entry,
            _guard: guard,
            _departures: None,
        })
    }

    /// Looks `key` up under a pin of its own, like `get_guarded`, but
    /// touches neither the eviction policy nor the statistics.
    pub(crate) fn peek_guarded<Q>(&self, hash: u64, key: &Q) -> Option<Guarded<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let guard = self.reclaimer.pin();
        let found = self.find_visible(&guard, &self.probe(hash), key)?;
        // SAFETY: `find_visible` returned a live entry protected by `guard`.
        if unsafe { self.expired(found.word) } {
            return None;
        }
        let entry = NonNull::new(found.word.address()).expect("visible words are never null");
        // `entry` was loaded through `guard`, which the result keeps.
        Some(Guarded {
            entry,
            _guard: guard,
            _departures: None,
        })
    }

    /// Removes `key` under a pin of its own and keeps that pin for the
    /// removed entry, which stays readable while the result lives. The
    /// listener call for it is made when the result is dropped, after its
    /// pin.
    pub(crate) fn remove_guarded<Q>(&self, hash: u64, key: &Q) -> Option<Guarded<'_, K, V, R>>
    where
        K: Borrow<Q> + Send,
        V: Send,
        Q: Eq + ?Sized,
    {
        // Declared before the guard, so dropped after it on every exit.
        let mut departures = self.departures();
        let guard = self.reclaimer.pin();
        let removed = self.remove(&guard, &mut departures, hash, key, RemovalCause::Removed)?;
        let removed = NonNull::from(removed);
        // `removed` was loaded through `guard`, which the result keeps: it
        // stays allocated, retired or not, until the guard is dropped.
        Some(Guarded {
            entry: removed,
            _guard: guard,
            _departures: departures.boxed(),
        })
    }

    /// Inserts under a pin of its own and keeps that pin for the new entry;
    /// `then` runs after the insert, still pinned (it must not be user code).
    /// The listener calls for what the insert unlinked are made when the
    /// result is dropped, after its pin.
    pub(crate) fn insert_guarded(
        &self,
        hash: u64,
        new: Unpublished<K, V>,
        then: impl FnOnce(&Entry<K, V>),
    ) -> Guarded<'_, K, V, R>
    where
        K: Eq + Send,
        V: Send,
    {
        let mut departures = self.departures();
        let guard = self.reclaimer.pin();
        let inserted = self.insert(&guard, &mut departures, hash, new);
        then(inserted);
        let entry = NonNull::from(inserted);
        // `entry` was inserted under `guard`, which the result keeps.
        Guarded {
            entry,
            _guard: guard,
            _departures: departures.boxed(),
        }
    }

    /// The entry in `slot` of set `index`, if it is visible and unexpired,
    /// under a pin of its own: a step of a walk over the table (`Iter`).
    /// Each step loads through the guard it keeps, so nothing it hands out
    /// depends on an earlier pin (a nested pin need not share the outer one's
    /// protection: a thread-local destructor pins through a fresh handle).
    pub(crate) fn guarded_at(&self, index: usize, slot: usize) -> Option<Guarded<'_, K, V, R>> {
        let guard = self.reclaimer.pin();
        let word = self.load(&guard, &self.sets[index].slots[slot]);
        // SAFETY: a visible word holds a live entry (Set invariant), protected
        // by `guard`, which the result keeps.
        if !word.is_visible() || unsafe { self.expired(word) } {
            return None;
        }
        Some(Guarded {
            entry: NonNull::new(word.address()).expect("visible words are never null"),
            _guard: guard,
            _departures: None,
        })
    }

    /// Mutant: a single-flight waiter given the leader's entry by address,
    /// without looking it up. Unsound on purpose; the verification suite
    /// must notice.
    #[cfg(epoch_cache_mutant = "flight_keeps_entry")]
    pub(crate) fn mutant_guarded(&self, address: usize) -> Option<Guarded<'_, K, V, R>> {
        let entry = NonNull::new(std::ptr::with_exposed_provenance_mut::<Entry<K, V>>(
            address,
        ))?;
        Some(Guarded {
            entry,
            _guard: self.reclaimer.pin(),
            _departures: None,
        })
    }
}
