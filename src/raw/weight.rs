//! Weighted capacity: a bound on the total weight of the entries, kept like
//! the bound on their number.
//!
//! `weight` counts the weights of occupied slots plus the weight reserved by
//! inserts in flight, and only ever grows by a reservation that keeps it
//! within `max_weight`, so `weight() <= max_weight` holds at every instant.
//! It mirrors `len` and its tickets:
//!
//! - an insert reserves its entry's weight before it links it (and, to
//!   replace a visible copy, only what the new entry weighs more than the
//!   old one), making room by evicting until the reservation fits;
//! - whichever thread unlinks an entry releases its weight after the unlink
//!   (the thread whose CAS took it out of its slot, as for retiring it), and
//!   a replacement releases what the old entry weighed more than the new.
//!
//! So the counter is never below the weight of what is linked, and equals it
//! once no insert is in flight. An entry heavier than `max_weight` is never
//! linked: it goes to the listener at once, as `Evicted`. A cache without a
//! weigher never touches the counter.

use crossbeam_utils::Backoff;

use super::departures::Departures;
use super::entry::{self, Entry, Unpublished};
use super::policy;
use super::reclaim::Reclaimer;
use super::set::WAYS;
use super::table::{Found, Probe, Side, Table};
use super::word::Word;
use crate::sync::Ordering;
use crate::RemovalCause;

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// The total weight of the entries, counting inserts in flight; 0
    /// without a weigher.
    pub(crate) fn weight(&self) -> u64 {
        // Relaxed: a plain counter; callers want a snapshot, not an ordering.
        self.weight.load(Ordering::Relaxed)
    }

    /// The bound on total weight, if the cache has a weigher.
    pub(crate) fn max_weight(&self) -> Option<u64> {
        self.shape.weighted.then_some(self.max_weight)
    }

    /// The weight of the entry behind `word`, 0 without a weigher. `word` is
    /// an entry of this table that the caller keeps alive: owned, or
    /// protected by its guard.
    #[inline]
    pub(super) fn weight_of(&self, word: Word<Entry<K, V>>) -> u64 {
        // SAFETY: the caller keeps the entry alive, and the table allocates
        // its entries with its shape.
        unsafe { entry::weight(self.shape, word) }
    }

    /// Adds `weight` to the counter if the total stays within `max_weight`.
    #[inline]
    fn try_reserve(&self, weight: u64) -> bool {
        if weight == 0 {
            return true;
        }
        // Relaxed: a counter; the bound holds by the modification order of
        // `weight` alone, as for `len` (see `take_ticket`).
        self.weight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(weight).filter(|&n| n <= self.max_weight)
            })
            .is_ok()
    }

    /// Gives back `weight`, reserved or held by an entry now unlinked.
    #[inline]
    pub(super) fn release_weight(&self, weight: u64) {
        if weight != 0 {
            // Relaxed: a counter, as in `try_reserve`.
            self.weight.fetch_sub(weight, Ordering::Relaxed);
        }
    }

    /// Gives back the ticket and the weight of an entry this thread has just
    /// unlinked (and still keeps alive under its guard).
    #[inline]
    pub(super) fn release(&self, word: Word<Entry<K, V>>) {
        self.release_ticket();
        if self.shape.weighted {
            self.release_weight(self.weight_of(word));
        }
    }

    /// An insert of an entry heavier than `max_weight`: the entry is never
    /// linked, and leaves at once as `Evicted`; a visible copy of its key is
    /// unlinked first (as `Replaced`), so no older value outlives the insert.
    /// The entry stays readable while `guard` lives, like any new entry.
    pub(super) fn refuse<'g>(
        &self,
        guard: &'g R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        new: Unpublished<K, V>,
    ) -> &'g Entry<K, V>
    where
        K: Eq + Send,
        V: Send,
    {
        while let Some(found) = self.find_visible(guard, probe, new.key()) {
            if self.unlink(self.slot(probe, found.side, found.slot), found.word) {
                self.release(found.word);
                // SAFETY: unlinked by us, still protected by `guard`.
                let cause = if unsafe { self.expired(found.word) } {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Replaced
                };
                self.retire(guard, out, found.word, cause);
                break;
            }
        }
        // Never in a slot, so no other thread can reach it: retiring it (or
        // handing it to `out`) is this thread's alone, as for an unlinked one.
        let word = new.publish();
        self.retire(guard, out, word, RemovalCause::Evicted);
        // SAFETY: retired no earlier than now, while `guard` is pinned (also
        // when `out` retires it later), so it stays allocated while `guard`
        // lives, which bounds the borrow.
        unsafe { &*word.address() }
    }

    /// Evicts one visible entry by the policy from the key's two sets, but
    /// not `spare` (the key's copy the caller is about to replace).
    /// Returns false if they hold no candidate; true if it evicted one or
    /// lost a race for it (worth another look).
    fn evict_from_sets(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        spare: Option<&Found<K, V>>,
    ) -> bool
    where
        K: Send,
        V: Send,
    {
        let snapshot = self.snapshot(guard, probe);
        let mut visible = snapshot.visible();
        // Relaxed: hints that order nothing, as in `link_pending`.
        let policy_words =
            Side::BOTH.map(|side| self.policy_of(probe, side).load(Ordering::Relaxed));
        if let Some(spare) = spare {
            visible &= !(1 << (spare.side.index() * WAYS + spare.slot));
        }
        let Some((index, slot, rank)) = policy::choose_victim(policy_words, visible, probe.hash)
        else {
            return false;
        };
        let side = Side::BOTH[index];
        let victim = snapshot.words[index][slot];
        if self.unlink(self.slot(probe, side, slot), victim) {
            self.release(victim);
            policy::record_eviction(self.policy_of(probe, side), rank);
            self.retire(guard, out, victim, RemovalCause::Evicted);
        }
        true
    }
}

/// Weight an insert has reserved for its entry and not yet handed to it:
/// given back if the insert unwinds (a panicking `Eq`) or holds too much.
pub(super) struct Reservation<'t, K, V, R: Reclaimer> {
    table: &'t Table<K, V, R>,
    // Invariant: counted in `table.weight`, owned by no entry.
    held: u64,
}

impl<'t, K, V, R: Reclaimer> Reservation<'t, K, V, R> {
    pub(super) fn new(table: &'t Table<K, V, R>) -> Self {
        Reservation { table, held: 0 }
    }

    /// Holds exactly `need`, evicting by the policy until it fits: first
    /// from the key's two sets, then anywhere, never `spare` (the key's copy
    /// that the caller is about to replace: it leaves as `Replaced`).
    ///
    /// A thread that can evict nothing gives back what it holds before it
    /// waits, so two inserts that each hold part of the room they need
    /// cannot wait on each other for ever.
    pub(super) fn hold(
        &mut self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        need: u64,
        spare: Option<&Found<K, V>>,
    ) where
        K: Send,
        V: Send,
    {
        let table = self.table;
        if self.held >= need {
            table.release_weight(self.held - need);
            self.held = need;
            return;
        }
        let backoff = Backoff::new();
        while !table.try_reserve(need - self.held) {
            let evicted = table.evict_from_sets(guard, out, probe, spare)
                || table.evict_elsewhere(guard, out, spare.map_or(Word::NULL, |s| s.word)) && {
                    // An eviction outside the key's sets frees a ticket too,
                    // which this insert does not need.
                    table.release_ticket();
                    true
                };
            if !evicted {
                // Only pending entries hold the weight: inserts in flight,
                // which link without waiting for anyone.
                table.release_weight(std::mem::take(&mut self.held));
                backoff.snooze();
            }
        }
        self.held = need;
    }

    /// The entry just linked (or the replacement just made) owns the weight
    /// held: it is released when that entry is unlinked.
    pub(super) fn hand_over(&mut self) {
        self.held = 0;
    }
}

impl<K, V, R: Reclaimer> Drop for Reservation<'_, K, V, R> {
    fn drop(&mut self) {
        self.table.release_weight(self.held);
    }
}
