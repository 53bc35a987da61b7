//! The insert protocol: replace a visible copy in one CAS, or link a new key
//! as *pending* and *settle* it.
//!
//! A new key is linked as pending into a free slot, or over a victim, and
//! then settles: after a SeqCst fence it rescans both sets for another copy
//! of its key. Of two racing copies the lower slot position wins; the loser
//! is unlinked (by itself or by the winner) before it can become visible, and
//! a visible copy found while settling wins over a pending one. Only then is
//! the pending bit cleared. So a key is visible in at most one slot at any
//! instant.

use crossbeam_utils::Backoff;

use super::departures::Departures;
use super::entry::{Entry, Unpublished};
use super::policy;
use super::reclaim::Reclaimer;
use super::set::WAYS;
use super::snapshot::pick_free;
use super::table::{Probe, Side, Table, PUBLISH};
use super::weight::Reservation;
use super::word::Word;
use crate::sync::{fence, AtomicPtr, Ordering};
use crate::RemovalCause;

/// Where `link_pending` linked a new entry, and the victim it displaced.
struct Linked<K, V> {
    side: Side,
    slot: usize,
    victim: Option<Word<Entry<K, V>>>,
}

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// Inserts `key`'s entry, replacing the value of a visible copy.
    ///
    /// Returns the new entry, which stays readable while `guard` lives (it may
    /// already have been evicted, or superseded by a racing insert of its key).
    pub(crate) fn insert<'g>(
        &self,
        guard: &'g R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        hash: u64,
        new: Unpublished<K, V>,
    ) -> &'g Entry<K, V>
    where
        K: Eq + Send,
        V: Send,
    {
        if new.word().is_timed() {
            // Relaxed: a hint that only enables sweeping.
            self.has_deadlines.store(true, Ordering::Relaxed);
        }
        let probe = self.probe(hash);
        let weight = self.weight_of(new.word());
        if weight > self.max_weight {
            return self.refuse(guard, out, &probe, new);
        }
        // Once per insert, not per retry: a retry would find its own
        // fingerprint and take a brand-new key for one seen before.
        let seen_recently = self.ghost.remember(probe.hash);
        let backoff = Backoff::new();
        // Given back on every exit but a link, which hands it to the entry.
        let mut reserved = Reservation::new(self);
        let word = loop {
            if let Some(found) = self.find_visible(guard, &probe, new.key()) {
                let old_weight = self.weight_of(found.word);
                if self.shape.weighted {
                    let grow = weight.saturating_sub(old_weight);
                    reserved.hold(guard, out, &probe, grow, Some(&found));
                }
                let visible = new.word().tagged(probe.tag, false);
                // PUBLISH on success: readers that Acquire the word see the new
                // entry's fields, and it Acquires the replaced entry's, which
                // are ours to drop. Relaxed on failure: we rescan.
                let slot = self.slot(&probe, found.side, found.slot);
                if slot
                    .compare_exchange(
                        found.word.into_raw(),
                        visible.into_raw(),
                        PUBLISH,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    let word = new.publish();
                    reserved.hand_over();
                    self.release_weight(old_weight.saturating_sub(weight));
                    // SAFETY: unlinked by us, still protected by `guard`.
                    let expired = unsafe { self.expired(found.word) };
                    let cause = if expired {
                        RemovalCause::Expired
                    } else {
                        RemovalCause::Replaced
                    };
                    self.retire(guard, out, found.word, cause);
                    break word;
                }
                continue;
            }
            if self.shape.weighted {
                reserved.hold(guard, out, &probe, weight, None);
            }
            match self.link_pending(guard, out, &probe, new.word(), seen_recently) {
                Some(linked) => {
                    // The slot holds the entry now: the table owns it, and
                    // its weight.
                    let word = new.publish();
                    reserved.hand_over();
                    self.settle(guard, out, &probe, linked, word);
                    break word;
                }
                // Every candidate slot is pending: let those inserts finish.
                None => backoff.snooze(),
            }
        };
        // SAFETY: linked by this thread under `guard`, so not retired before
        // `guard` was pinned, and the borrow is bounded by the guard's.
        unsafe { &*word.address() }
    }

    /// Links `new` as pending into a free slot, or over a victim. Returns the
    /// slot and the victim it displaced (the caller must retire it, once it
    /// owns the pending entry), or `None` if no candidate slot could be used.
    fn link_pending(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        new: Word<Entry<K, V>>,
        seen_recently: bool,
    ) -> Option<Linked<K, V>>
    where
        K: Send,
        V: Send,
    {
        let pending = new.tagged(probe.tag, true);
        // Relaxed: a hint; an expired entry missed here goes at the next write.
        if self.has_deadlines.load(Ordering::Relaxed) {
            for side in Side::BOTH {
                self.purge_set(guard, out, probe.set(side));
            }
        }
        #[cfg(test)]
        if tests::FAIL_LINKS.with(|n| n.replace(n.get().saturating_sub(1))) > 0 {
            return None;
        }
        let mut ticket = self.take_ticket();
        loop {
            let snapshot = self.snapshot(guard, probe);
            if ticket {
                if let Some((side, slot)) = pick_free(snapshot.free()) {
                    if self.claim(probe, side, slot, Word::NULL, pending, seen_recently) {
                        return Some(Linked {
                            side,
                            slot,
                            victim: None,
                        });
                    }
                    continue;
                }
            }
            // Relaxed: the policy words are hints that order nothing; a stale
            // one picks a worse victim, never a wrong one (the claim's CAS
            // checks that the victim is still in its slot).
            let policy_words =
                Side::BOTH.map(|side| self.policy_of(probe, side).load(Ordering::Relaxed));
            match policy::choose_victim(policy_words, snapshot.visible(), probe.hash) {
                Some((index, slot, victim_rank)) => {
                    let side = Side::BOTH[index];
                    let victim = snapshot.words[index][slot];
                    // The victim is unlinked in the same step, so `len` does
                    // not change.
                    if self.claim(probe, side, slot, victim, pending, seen_recently) {
                        if ticket {
                            self.release_ticket();
                        }
                        // The new entry's weight was reserved before.
                        if self.shape.weighted {
                            self.release_weight(self.weight_of(victim));
                        }
                        // After `claim`'s reset of the new slot, which it
                        // commutes with: ageing and decay touch only non-zero
                        // frequencies, and the reset byte has none.
                        policy::record_eviction(self.policy_of(probe, side), victim_rank);
                        return Some(Linked {
                            side,
                            slot,
                            victim: Some(victim),
                        });
                    }
                }
                None if ticket => {
                    self.release_ticket();
                    return None;
                }
                // At capacity and nothing to evict here: evict elsewhere and
                // take over that entry's ticket.
                None => {
                    // Only worth it if a slot here is free to take afterwards.
                    if pick_free(snapshot.free()).is_none()
                        || !self.evict_elsewhere(guard, out, Word::NULL)
                    {
                        return None;
                    }
                    ticket = true;
                }
            }
        }
    }

    /// Links `pending` into `slot` of the set on `side` if the slot still
    /// holds `expected` (null, or a victim), and resets the slot's policy
    /// byte for the newcomer. False if another thread changed the slot.
    fn claim(
        &self,
        probe: &Probe,
        side: Side,
        slot: usize,
        expected: Word<Entry<K, V>>,
        pending: Word<Entry<K, V>>,
        seen_recently: bool,
    ) -> bool {
        // PUBLISH on success: other inserts' settle scans read a pending
        // entry's key, so its fields must be visible from this CAS on (readers
        // see it only after the un-pend, a later RMW of this thread); over a
        // victim, it also Acquires the victim's fields, which we retire.
        // Relaxed on failure: the caller rescans.
        let won = self
            .slot(probe, side, slot)
            .compare_exchange(
                expected.into_raw(),
                pending.into_raw(),
                PUBLISH,
                Ordering::Relaxed,
            )
            .is_ok();
        if won {
            policy::record_insert(self.policy_of(probe, side), slot, seen_recently);
        }
        won
    }

    /// Unlinks one visible entry other than `spare` from any set; true if
    /// this thread did, and so now holds its ticket (its weight is given back).
    pub(super) fn evict_elsewhere(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        spare: Word<Entry<K, V>>,
    ) -> bool
    where
        K: Send,
        V: Send,
    {
        let n = self.sets.len();
        // Relaxed: the hand only spreads evictions; it orders nothing.
        let start = self.hand.fetch_add(1, Ordering::Relaxed);
        for step in 0..n {
            let set = &self.sets[(start + step) % n];
            for slot in &set.slots {
                let word = self.load(guard, slot);
                if word.is_visible() && word != spare && self.unlink(slot, word) {
                    if self.shape.weighted {
                        self.release_weight(self.weight_of(word));
                    }
                    policy::record_eviction(&set.policy, policy::COLD);
                    self.retire(guard, out, word, RemovalCause::Evicted);
                    return true;
                }
            }
        }
        false
    }

    /// Unlinks a racing pending copy of our key that loses to ours; false if
    /// it was no longer there. Rare (two inserts of one new key at once), so
    /// out of line: it keeps `settle`'s rescan loop small.
    #[cold]
    #[inline(never)]
    fn withdraw_loser(
        &self,
        guard: &R::Guard<'_>,
        slot: &AtomicPtr<Entry<K, V>>,
        word: Word<Entry<K, V>>,
    ) -> bool
    where
        K: Send,
        V: Send,
    {
        if !self.unlink(slot, word) {
            return false;
        }
        self.release(word);
        self.retire_now(guard, word);
        true
    }

    /// Makes a pending entry visible unless another copy of its key wins; first
    /// retires the victim it displaced, if any.
    fn settle(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        linked: Linked<K, V>,
        new: Word<Entry<K, V>>,
    ) where
        K: Eq + Send,
        V: Send,
    {
        let Linked { side, slot, victim } = linked;
        let mine = self.slot(probe, side, slot);
        let pending = new.tagged(probe.tag, true);
        let withdraw = Withdraw {
            table: self,
            guard,
            slot: mine,
            word: pending,
        };
        // Under `withdraw`: should this unwind, our pending entry is unlinked.
        if let Some(victim) = victim {
            self.retire(guard, out, victim, RemovalCause::Evicted);
        }
        // SeqCst fence: of two racing inserts of one key, each links its copy
        // and then fences before scanning. The fences are totally ordered: the
        // later one's scan sees the earlier one's link (or what replaced it),
        // since a link before an earlier fence is visible to loads after a
        // later one. At least one of them therefore resolves the race below.
        fence(Ordering::SeqCst);
        let position = |side: Side, slot: usize| probe.set(side) * WAYS + slot;
        let my_position = position(side, slot);
        // SAFETY: `new` is linked in our slot and protected by `guard`.
        let key = unsafe { &(*new.address()).key };
        'scan: loop {
            for other_side in Side::BOTH {
                let set = &self.sets[probe.set(other_side)];
                for (other_slot, other) in set.slots.iter().enumerate() {
                    if (other_side, other_slot) == (side, slot) {
                        continue;
                    }
                    let word = self.load(guard, other);
                    if !word.matches_any(probe.tag) {
                        continue;
                    }
                    // SAFETY: a live entry (Set invariant) protected by `guard`.
                    if unsafe { &(*word.address()).key } != key {
                        continue;
                    }
                    let other_wins =
                        !word.is_pending() || position(other_side, other_slot) < my_position;
                    if other_wins {
                        // Dropping `withdraw` unlinks our copy, unless a winner
                        // already did.
                        return;
                    }
                    if !self.withdraw_loser(guard, other, word) {
                        // It became visible or was unlinked: look again.
                        continue 'scan;
                    }
                }
            }
            break;
        }
        std::mem::forget(withdraw);
        // PUBLISH on success: the un-pend is what makes the entry visible.
        // Relaxed on failure: a winner unlinked us and retires our entry.
        let _ = mine.compare_exchange(
            pending.into_raw(),
            new.tagged(probe.tag, false).into_raw(),
            PUBLISH,
            Ordering::Relaxed,
        );
    }
}

/// Unlinks a pending entry on every exit from `settle` but success: when it
/// loses, and when a key's `Eq` panics. What it unlinks was never visible,
/// so it is withdrawn (retired without a listener call), not removed.
struct Withdraw<'t, 'g, 'c, K: Send, V: Send, R: Reclaimer> {
    table: &'t Table<K, V, R>,
    guard: &'g R::Guard<'c>,
    slot: &'t AtomicPtr<Entry<K, V>>,
    word: Word<Entry<K, V>>,
}

impl<K: Send, V: Send, R: Reclaimer> Drop for Withdraw<'_, '_, '_, K, V, R> {
    fn drop(&mut self) {
        if self.table.unlink(self.slot, self.word) {
            self.table.release(self.word);
            self.table.retire_now(self.guard, self.word);
        }
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
pub(crate) mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::raw::entry::{Shape, Trailer};
    use crate::raw::hooks::Hooks;
    use crate::raw::reclaim::Seize;
    use crate::raw::table::{sets_for, Limits};

    thread_local! {
        /// How many of this thread's next `link_pending` calls give up at
        /// once, as when every candidate slot is pending: the insert retries.
        pub(crate) static FAIL_LINKS: Cell<u32> = const { Cell::new(0) };
    }

    /// An insert that retries is still one insert: a brand-new key must stay
    /// a newcomer, not be taken for one the ghost saw before (its own first
    /// attempt).
    #[test]
    fn a_retried_insert_is_still_a_newcomer() {
        let capacity = 16;
        let hooks = Hooks {
            listener: None,
            stats: None,
        };
        let table: Table<u64, u64, Seize> = Table::new(
            capacity,
            sets_for(capacity).unwrap(),
            hooks,
            Limits::default(),
        )
        .unwrap();
        let hash = 0x1234_5678_9ABC_DEF0;
        let mut out = table.departures();
        let guard = table.reclaimer.pin();
        FAIL_LINKS.with(|n| n.set(2));
        let new = Unpublished::new(Shape::default(), 1, 1, Trailer::NONE);
        table.insert(&guard, &mut out, hash, new);
        assert_eq!(FAIL_LINKS.with(Cell::get), 0, "the insert retried twice");
        let probe = table.probe(hash);
        let found = table.find_visible(&guard, &probe, &1).expect("inserted");
        let policy = table.policy_of(&probe, found.side).load(Ordering::Relaxed);
        assert!(
            policy::is_newcomer(policy, found.slot),
            "a brand-new key that retried was taken for one seen before"
        );
    }
}
