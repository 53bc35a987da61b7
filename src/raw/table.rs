//! The lock-free table: fixed sets of atomic slots, two candidate sets per key.
//!
//! Every operation is a handful of loads and one or two CASes on slot words:
//!
//! - `get` scans the tags of the key's two sets and compares the key of each
//!   visible slot whose tag matches. It stores nothing but a policy hint, and
//!   that only when the hint would change.
//! - `remove` CASes the key's visible slot to null; the winner retires it.
//! - `insert` first tries to replace the key's visible slot (one CAS). A new
//!   key is linked as *pending* into a free slot, or over a victim, and then
//!   *settles*: after a SeqCst fence it rescans both sets for another copy of
//!   its key. Of two racing copies the lower slot position wins; the loser is
//!   unlinked (by itself or by the winner) before it can become visible, and a
//!   visible copy found while settling wins over a pending one. So a key is
//!   visible in at most one slot at any instant.
//!
//! Retire exactly once: only the thread whose CAS took a pointer out of a slot
//! retires it. `len` counts occupied slots plus tickets held by inserts in
//! flight, and a ticket is taken only while `len < capacity`, so
//! `len() <= capacity()` holds at every instant.

use std::borrow::Borrow;

use crossbeam_utils::{Backoff, CachePadded};

use super::departures::Departures;
use super::entry::{self, Entry, Unpublished};
use super::policy;
use super::reclaim::Reclaimer;
use super::set::{self, Set, WAYS};
use crate::stats::Stats;
use crate::sync::{fence, AtomicPtr, AtomicUsize, Ordering};
use crate::RemovalCause;

/// Called with every entry that leaves the cache, after it is unlinked.
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// What happens when an entry leaves: counted, and shown to the listener.
pub(crate) struct Hooks<K, V> {
    pub(crate) listener: Option<Listener<K, V>>,
    pub(crate) stats: Option<Stats>,
}

/// The ordering of the CASes that make an entry visible to readers.
#[cfg(not(epoch_cache_mutant = "relaxed_publish"))]
const PUBLISH: Ordering = Ordering::SeqCst;
/// Mutant: publishing without Release lets a reader see an entry before its
/// fields. The verification suite must catch this.
#[cfg(epoch_cache_mutant = "relaxed_publish")]
const PUBLISH: Ordering = Ordering::Relaxed;

/// The two candidate sets of a key and its tag.
#[derive(Clone, Copy)]
struct Probe {
    sets: [usize; 2],
    tag: usize,
    hash: u64,
}

/// A slot located by a scan: which of the probe's sets, which slot, and the
/// word that was in it.
struct Found<K, V> {
    which: usize,
    slot: usize,
    word: *mut Entry<K, V>,
}

/// Where `link_pending` linked a new entry, and the victim it displaced.
struct Linked<K, V> {
    which: usize,
    slot: usize,
    victim: Option<*mut Entry<K, V>>,
}

pub(crate) struct Table<K, V, R: Reclaimer> {
    sets: Box<[Set<Entry<K, V>>]>,
    capacity: usize,
    // Invariant: len == occupied slots + tickets held by inserts in flight,
    // and len <= capacity.
    len: CachePadded<AtomicUsize>,
    ghost: policy::Ghost,
    pub(crate) hooks: Hooks<K, V>,
    /// Set once any entry has a deadline: inserts then sweep expired entries
    /// out of the sets they write.
    has_deadlines: crate::sync::unmodeled::AtomicBool,
    /// Where the next eviction outside a key's own sets starts looking.
    hand: CachePadded<AtomicUsize>,
    pub(crate) reclaimer: R,
}

// SAFETY: the table owns its entries (each a `Box<Entry<K, V>>` reachable from
// one slot) and hands out only shared references to them, from any thread, so
// it is Send and Sync exactly when sharing and sending K and V is: K and V must
// be Send (an entry may be dropped by another thread) and Sync (several threads
// read one entry). The reclaimer is Send + Sync by its trait bound.
unsafe impl<K: Send + Sync, V: Send + Sync, R: Reclaimer> Send for Table<K, V, R> {}
// SAFETY: as for Send above.
unsafe impl<K: Send + Sync, V: Send + Sync, R: Reclaimer> Sync for Table<K, V, R> {}

/// Sizing: slots per unit of capacity is 1 + 1/SLACK_DIVISOR (1.25).
const SLACK_DIVISOR: usize = 4;

/// The number of sets for a capacity, or `None` if the table would not fit.
pub(crate) fn sets_for(capacity: usize) -> Option<usize> {
    let slots = capacity.checked_add(capacity.div_ceil(SLACK_DIVISOR))?;
    let sets = slots.div_ceil(WAYS).max(2);
    let bytes = sets.checked_mul(std::mem::size_of::<Set<Entry<(), ()>>>())?;
    (sets <= u32::MAX as usize && bytes <= isize::MAX as usize).then_some(sets)
}

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// A table for `capacity` entries; `None` if an allocation fails.
    ///
    /// `sets` must come from `sets_for(capacity)`.
    pub(crate) fn new(capacity: usize, sets: usize, hooks: Hooks<K, V>) -> Option<Self> {
        Some(Table {
            sets: alloc_sets(sets)?,
            ghost: policy::Ghost::new(sets * WAYS)?,
            hooks,
            has_deadlines: crate::sync::unmodeled::AtomicBool::new(false),
            capacity,
            len: CachePadded::new(AtomicUsize::new(0)),
            hand: CachePadded::new(AtomicUsize::new(0)),
            reclaimer: R::new(),
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn slots(&self) -> usize {
        self.sets.len() * WAYS
    }

    pub(crate) fn len(&self) -> usize {
        // Relaxed: a plain counter; callers want a snapshot, not an ordering.
        self.len.load(Ordering::Relaxed)
    }

    #[inline]
    fn probe(&self, hash: u64) -> Probe {
        let n = self.sets.len() as u64;
        // Two independent halves of the hash pick the sets (Lemire's
        // multiply-shift range reduction; `n < 2^32` by `sets_for`).
        let first = (((hash >> 32) * n) >> 32) as usize;
        let mut second = (((hash & 0xFFFF_FFFF) * n) >> 32) as usize;
        if second == first {
            second = (first + 1) % self.sets.len();
        }
        Probe {
            sets: [first, second],
            tag: set::tag_bits(hash),
            hash,
        }
    }

    /// The slot position that breaks ties between racing copies of a key.
    #[inline]
    fn position(probe: &Probe, which: usize, slot: usize) -> usize {
        probe.sets[which] * WAYS + slot
    }

    #[inline]
    fn slot(&self, probe: &Probe, which: usize, slot: usize) -> &AtomicPtr<Entry<K, V>> {
        &self.sets[probe.sets[which]].slots[slot]
    }

    /// Finds the visible entry of `key`, if any.
    #[inline]
    fn find_visible<Q>(&self, guard: &R::Guard<'_>, probe: &Probe, key: &Q) -> Option<Found<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        prefetch(&self.sets[probe.sets[1]]);
        for which in 0..2 {
            let set = &self.sets[probe.sets[which]];
            for slot in 0..WAYS {
                // Acquire: pairs with the Release (PUBLISH) CAS that linked the
                // entry, so its key and value are initialised when we read them.
                let word = R::protect(guard, &set.slots[slot], Ordering::Acquire);
                if set::matches_visible(word, probe.tag) {
                    // SAFETY: a non-null word holds a live entry (Set invariant),
                    // and `protect` keeps it alive while `guard` lives.
                    let entry = unsafe { &*set::unpack(word) };
                    if entry.key.borrow() == key {
                        return Some(Found { which, slot, word });
                    }
                }
            }
        }
        None
    }

    /// Looks `key` up; the entry lives as long as `guard`.
    #[inline]
    pub(crate) fn get<'g, Q>(
        &self,
        guard: &'g R::Guard<'_>,
        hash: u64,
        key: &Q,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let probe = self.probe(hash);
        let found = self.find_visible(guard, &probe, key)?;
        // SAFETY: `find_visible` returned a live entry protected by `guard`,
        // and the reference is bounded by `'g`, the guard's borrow.
        let entry = unsafe { &*set::unpack(found.word) };
        // SAFETY: live and protected, as above.
        if unsafe { entry::expired(found.word) } {
            return None;
        }
        policy::record_hit(&self.sets[probe.sets[found.which]].policy, found.slot);
        Some(entry)
    }

    /// Removes the visible entry of `key`; true if this call unlinked it.
    pub(crate) fn remove<Q>(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        hash: u64,
        key: &Q,
    ) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
        K: Send,
        V: Send,
    {
        let probe = self.probe(hash);
        while let Some(found) = self.find_visible(guard, &probe, key) {
            if self.unlink(
                guard,
                self.slot(&probe, found.which, found.slot),
                found.word,
            ) {
                self.release_ticket();
                // SAFETY: unlinked by us, still protected by `guard`.
                let expired = unsafe { entry::expired(found.word) };
                let cause = if expired {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Removed
                };
                self.retire(guard, out, found.word, cause);
                return !expired;
            }
        }
        false
    }

    /// Unlinks every visible entry of set `index`. Inserts racing with it
    /// may land after it.
    pub(crate) fn clear_set(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        index: usize,
    ) where
        K: Send,
        V: Send,
    {
        for slot in &self.sets[index].slots {
            // Acquire: as in `find_visible`; the listener may read the entry.
            let word = R::protect(guard, slot, Ordering::Acquire);
            if !word.is_null() && !set::is_pending(word) && self.unlink(guard, slot, word) {
                self.release_ticket();
                self.retire(guard, out, word, RemovalCause::Cleared);
            }
        }
    }

    /// CASes `word` out of `slot`; true if this thread unlinked it (and so
    /// must retire it).
    #[inline]
    fn unlink(
        &self,
        _guard: &R::Guard<'_>,
        slot: &AtomicPtr<Entry<K, V>>,
        word: *mut Entry<K, V>,
    ) -> bool {
        // AcqRel on success: Acquire orders the retire after every write that
        // linked the entry; Release keeps this thread's earlier reads of it
        // before the unlink. Relaxed on failure: we only retry or give up.
        slot.compare_exchange(
            word,
            std::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    }

    /// Disposes of an entry that left the cache, which this thread unlinked:
    /// counts it, and retires it now, or, when a listener is set, hands it to
    /// `out`, which shows it to the listener once this thread has unpinned.
    #[inline]
    fn retire(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        word: *mut Entry<K, V>,
        cause: RemovalCause,
    ) where
        K: Send,
        V: Send,
    {
        if let Some(stats) = &self.hooks.stats {
            stats.removal(cause);
        }
        if self.hooks.listener.is_some() {
            // SAFETY: unlinked by this thread's CAS, in no slot, and not
            // retired here: `out` owns it from now on.
            unsafe { out.keep(word, cause) };
        } else {
            self.retire_now(guard, word);
        }
    }

    /// Retires an entry this thread unlinked, without a listener call: a
    /// departure without a listener, or a pending entry, which was never
    /// visible and so never in the cache.
    #[inline]
    fn retire_now(&self, guard: &R::Guard<'_>, word: *mut Entry<K, V>)
    where
        K: Send,
        V: Send,
    {
        // SAFETY: retire's contract: (1) the word came from `entry::alloc`, and
        // only the thread whose CAS unlinked it gets here, once; (2) no slot
        // holds it, so no later guard can load it; (3) K and V are Send.
        unsafe { entry::retire(&self.reclaimer, guard, word) }
    }

    /// Takes a ticket if `len < capacity`.
    #[inline]
    fn take_ticket(&self) -> bool {
        // Relaxed: a counter; the bound holds by the modification order of
        // `len` alone.
        self.len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    #[inline]
    fn release_ticket(&self) {
        // Relaxed: a counter, as in `take_ticket`.
        self.len.fetch_sub(1, Ordering::Relaxed);
    }

    /// Inserts `key`'s entry, replacing the value of a visible copy.
    ///
    /// Returns the new entry, which stays readable while `guard` lives (it may
    /// already have been evicted, or superseded by a racing insert of its key).
    pub(crate) fn insert(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        hash: u64,
        new: Unpublished<K, V>,
    ) -> *mut Entry<K, V>
    where
        K: Eq + Send,
        V: Send,
    {
        if new.0.addr() & entry::TIMED != 0 {
            // Relaxed: a hint that only enables sweeping.
            self.has_deadlines.store(true, Ordering::Relaxed);
        }
        let probe = self.probe(hash);
        // Once per insert, not per retry: a retry would find its own
        // fingerprint and take a brand-new key for one seen before.
        let seen_recently = self.ghost.remember(probe.hash);
        let backoff = Backoff::new();
        loop {
            // SAFETY: `new` is ours until it is published.
            let key = unsafe { &(*set::unpack(new.0)).key };
            if let Some(found) = self.find_visible(guard, &probe, key) {
                let word = set::pack(new.0, probe.tag, false);
                // PUBLISH (Release) on success: readers that Acquire the word see
                // the new entry's fields; Acquire too, so the retired entry's
                // fields are ours to drop. Relaxed on failure: we rescan.
                let slot = self.slot(&probe, found.which, found.slot);
                if slot
                    .compare_exchange(found.word, word, PUBLISH, Ordering::Relaxed)
                    .is_ok()
                {
                    let ptr = new.publish();
                    // SAFETY: unlinked by us, still protected by `guard`.
                    let expired = unsafe { entry::expired(found.word) };
                    let cause = if expired {
                        RemovalCause::Expired
                    } else {
                        RemovalCause::Replaced
                    };
                    self.retire(guard, out, found.word, cause);
                    return ptr;
                }
                continue;
            }
            match self.link_pending(guard, out, &probe, new.0, seen_recently) {
                Some(linked) => {
                    // The slot holds the entry now: the table owns it.
                    let ptr = new.publish();
                    self.settle(guard, out, &probe, linked, ptr);
                    return ptr;
                }
                // Every candidate slot is pending: let those inserts finish.
                None => backoff.snooze(),
            }
        }
    }

    /// Links `new` as pending into a free slot, or over a victim. Returns the
    /// slot and the victim it displaced (the caller must retire it, once it
    /// owns the pending entry), or `None` if no candidate slot could be used.
    fn link_pending(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        new: *mut Entry<K, V>,
        seen_recently: bool,
    ) -> Option<Linked<K, V>>
    where
        K: Send,
        V: Send,
    {
        let pending = set::pack(new, probe.tag, true);
        // Relaxed: a hint; an expired entry missed here goes at the next write.
        if self.has_deadlines.load(Ordering::Relaxed) {
            for s in probe.sets {
                self.purge_set(guard, out, s);
            }
        }
        #[cfg(test)]
        if tests::FAIL_LINKS.with(|n| n.replace(n.get().saturating_sub(1))) > 0 {
            return None;
        }
        let mut ticket = self.take_ticket();
        loop {
            let words = probe.sets.map(|s| {
                let set = &self.sets[s];
                // Acquire: as in `find_visible`; we may read a victim's policy.
                std::array::from_fn::<_, WAYS, _>(|i| {
                    R::protect(guard, &set.slots[i], Ordering::Acquire)
                })
            });
            if ticket {
                if let Some((which, slot)) = pick_free(&words) {
                    let free = std::ptr::null_mut();
                    if self.claim(probe, which, slot, free, pending, seen_recently) {
                        return Some(Linked {
                            which,
                            slot,
                            victim: None,
                        });
                    }
                    continue;
                }
            }
            let policy_words = probe
                .sets
                .map(|s| self.sets[s].policy.load(Ordering::Relaxed));
            let visible = words.map(|ws| {
                (0..WAYS).fold(0_u8, |m, i| {
                    m | (u8::from(!ws[i].is_null() && !set::is_pending(ws[i])) << i)
                })
            });
            match policy::choose_victim(policy_words, visible, probe.hash) {
                Some((which, slot, victim_rank)) => {
                    let victim = words[which][slot];
                    // The victim is unlinked in the same step, so `len` does
                    // not change.
                    if self.claim(probe, which, slot, victim, pending, seen_recently) {
                        if ticket {
                            self.release_ticket();
                        }
                        // After `claim`'s reset of the new slot, which it
                        // commutes with: ageing and decay touch only non-zero
                        // frequencies, and the reset byte has none.
                        policy::record_eviction(&self.sets[probe.sets[which]].policy, victim_rank);
                        return Some(Linked {
                            which,
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
                    if pick_free(&words).is_none() || !self.evict_elsewhere(guard, out) {
                        return None;
                    }
                    ticket = true;
                }
            }
        }
    }

    /// Links `pending` into `slot` of candidate set `which` if the slot still
    /// holds `expected` (null, or a victim), and resets the slot's policy
    /// byte for the newcomer. False if another thread changed the slot.
    fn claim(
        &self,
        probe: &Probe,
        which: usize,
        slot: usize,
        expected: *mut Entry<K, V>,
        pending: *mut Entry<K, V>,
        seen_recently: bool,
    ) -> bool {
        // PUBLISH on success: other inserts' settle scans read a pending
        // entry's key, so its fields must be visible from this CAS on (readers
        // see it only after the un-pend, a later RMW of this thread). Relaxed
        // on failure: the caller rescans.
        let won = self
            .slot(probe, which, slot)
            .compare_exchange(expected, pending, PUBLISH, Ordering::Relaxed)
            .is_ok();
        if won {
            policy::record_insert(&self.sets[probe.sets[which]].policy, slot, seen_recently);
        }
        won
    }

    /// The number of sets, for iteration by set.
    pub(crate) fn set_count(&self) -> usize {
        self.sets.len()
    }

    /// Calls `visit` with each visible, unexpired entry of set `index`.
    #[cfg(feature = "rayon")]
    pub(crate) fn visit_set(
        &self,
        guard: &R::Guard<'_>,
        index: usize,
        mut visit: impl FnMut(&Entry<K, V>),
    ) {
        for slot in &self.sets[index].slots {
            // Acquire: as in `find_visible`.
            let word = R::protect(guard, slot, Ordering::Acquire);
            if !word.is_null() && !set::is_pending(word) {
                // SAFETY: a live entry (Set invariant) protected by `guard`,
                // and the borrow is bounded by the guard's.
                let entry = unsafe { &*set::unpack(word) };
                // SAFETY: live and protected, as above.
                if unsafe { !entry::expired(word) } {
                    visit(entry);
                }
            }
        }
    }

    /// Calls `visit` with the word of each visible entry of set `index`,
    /// expired or not (the caller checks expiry when it uses the entry). Each
    /// word stays readable while `guard` lives.
    pub(crate) fn visit_set_words(
        &self,
        guard: &R::Guard<'_>,
        index: usize,
        mut visit: impl FnMut(*mut Entry<K, V>),
    ) {
        for slot in &self.sets[index].slots {
            // Acquire: as in `find_visible`.
            let word = R::protect(guard, slot, Ordering::Acquire);
            if !word.is_null() && !set::is_pending(word) {
                visit(word);
            }
        }
    }

    /// Unlinks the entries of set `index` that `keep` rejects (cause
    /// `Removed`) or that have expired (cause `Expired`).
    pub(crate) fn retain_set(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        index: usize,
        keep: &mut dyn FnMut(&K, &V) -> bool,
    ) where
        K: Send,
        V: Send,
    {
        for slot in &self.sets[index].slots {
            // Acquire: as in `find_visible`.
            let word = R::protect(guard, slot, Ordering::Acquire);
            if word.is_null() || set::is_pending(word) {
                continue;
            }
            // SAFETY: a live entry (Set invariant) protected by `guard`.
            let entry = unsafe { &*set::unpack(word) };
            // SAFETY: live and protected, as above.
            let cause = if unsafe { entry::expired(word) } {
                RemovalCause::Expired
            } else if !keep(&entry.key, &entry.value) {
                RemovalCause::Removed
            } else {
                continue;
            };
            if self.unlink(guard, slot, word) {
                self.release_ticket();
                self.retire(guard, out, word, cause);
            }
        }
    }

    /// Unlinks the expired entries of set `index`.
    pub(crate) fn purge_set(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        index: usize,
    ) where
        K: Send,
        V: Send,
    {
        self.retain_set(guard, out, index, &mut |_, _| true);
    }

    /// Unlinks one visible entry from any set; true if this thread did, and so
    /// now holds its ticket.
    fn evict_elsewhere(&self, guard: &R::Guard<'_>, out: &mut Departures<'_, K, V, R>) -> bool
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
                let word = R::protect(guard, slot, Ordering::Acquire);
                if !word.is_null() && !set::is_pending(word) && self.unlink(guard, slot, word) {
                    policy::record_eviction(&set.policy, policy::COLD);
                    self.retire(guard, out, word, RemovalCause::Evicted);
                    return true;
                }
            }
        }
        false
    }

    /// Makes a pending entry visible unless another copy of its key wins; first
    /// retires the victim it displaced, if any.
    fn settle(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        probe: &Probe,
        linked: Linked<K, V>,
        new: *mut Entry<K, V>,
    ) where
        K: Eq + Send,
        V: Send,
    {
        let Linked {
            which,
            slot,
            victim,
        } = linked;
        let mine = self.slot(probe, which, slot);
        let pending = set::pack(new, probe.tag, true);
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
        // and then fences before scanning; the fences are totally ordered, so
        // the later one's scan sees the earlier one's copy (or what replaced
        // it). At least one of them therefore resolves the race below.
        fence(Ordering::SeqCst);
        let my_position = Self::position(probe, which, slot);
        // SAFETY: `new` is linked in our slot and protected by `guard`.
        let key = unsafe { &(*set::unpack(new)).key };
        'scan: loop {
            for other_which in 0..2 {
                for other_slot in 0..WAYS {
                    if (other_which, other_slot) == (which, slot) {
                        continue;
                    }
                    let other = self.slot(probe, other_which, other_slot);
                    // Acquire: as in `find_visible`.
                    let word = R::protect(guard, other, Ordering::Acquire);
                    if !set::matches_any(word, probe.tag) {
                        continue;
                    }
                    // SAFETY: a live entry (Set invariant) protected by `guard`.
                    if unsafe { &(*set::unpack(word)).key } != key {
                        continue;
                    }
                    let other_wins = !set::is_pending(word)
                        || Self::position(probe, other_which, other_slot) < my_position;
                    if other_wins {
                        // Dropping `withdraw` unlinks our copy, unless a winner
                        // already did.
                        return;
                    }
                    if self.unlink(guard, other, word) {
                        self.release_ticket();
                        self.retire_now(guard, word);
                    } else {
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
            pending,
            set::pack(new, probe.tag, false),
            PUBLISH,
            Ordering::Relaxed,
        );
    }
}

#[cfg(any(test, fuzzing))]
impl<K: Eq, V, R: Reclaimer> Table<K, V, R> {
    /// Checks the table's invariants; call only while no operation is in
    /// flight. `hash` must be the hash the cache uses for keys.
    ///
    /// # Panics
    ///
    /// On the first broken invariant, with a message saying which.
    pub(crate) fn validate(&self, hash: impl Fn(&K) -> u64) {
        let mut occupied = 0;
        let mut seen = std::collections::HashSet::new();
        for (set_index, set) in self.sets.iter().enumerate() {
            for (slot_index, slot) in set.slots.iter().enumerate() {
                // Relaxed: quiescent by the caller's contract.
                let word = slot.load(Ordering::Relaxed);
                if word.is_null() {
                    continue;
                }
                occupied += 1;
                assert!(
                    !set::is_pending(word),
                    "pending entry at rest in set {set_index}"
                );
                // (Zero-sized entries all share one address: skip them.)
                assert!(
                    std::mem::size_of::<Entry<K, V>>() == 0
                        || seen.insert(set::unpack(word).addr()),
                    "one entry in two slots"
                );
                // SAFETY: quiescent, so every linked entry is live.
                let entry = unsafe { &*set::unpack(word) };
                let probe = self.probe(hash(&entry.key));
                assert!(
                    probe.sets.contains(&set_index),
                    "entry outside its two sets"
                );
                assert!(
                    set::matches_visible(word, probe.tag),
                    "tag disagrees with the key's hash"
                );
                for which in 0..2 {
                    for other in 0..WAYS {
                        if (probe.sets[which], other) == (set_index, slot_index) {
                            continue;
                        }
                        let w = self.slot(&probe, which, other).load(Ordering::Relaxed);
                        // SAFETY: as above.
                        let duplicate =
                            !w.is_null() && unsafe { (*set::unpack(w)).key == entry.key };
                        assert!(!duplicate, "a key in two slots");
                    }
                }
            }
        }
        assert_eq!(
            occupied,
            self.len(),
            "len disagrees with the occupied slots"
        );
        assert!(self.len() <= self.capacity, "len above capacity");
    }
}

/// Unlinks a pending entry on every exit from `settle` but success: when it
/// loses, and when a key's `Eq` panics.
struct Withdraw<'t, 'g, 'c, K: Send, V: Send, R: Reclaimer> {
    table: &'t Table<K, V, R>,
    guard: &'g R::Guard<'c>,
    slot: &'t AtomicPtr<Entry<K, V>>,
    word: *mut Entry<K, V>,
}

impl<K: Send, V: Send, R: Reclaimer> Drop for Withdraw<'_, '_, '_, K, V, R> {
    fn drop(&mut self) {
        if self.table.unlink(self.guard, self.slot, self.word) {
            self.table.release_ticket();
            self.table.retire_now(self.guard, self.word);
        }
    }
}

/// Starts loading a set's cache line: a lookup that misses its first set then
/// finds the second already on its way.
#[inline(always)]
fn prefetch<E>(set: &Set<E>) {
    #[cfg(all(target_arch = "x86_64", not(miri), not(epoch_cache_loom)))]
    // SAFETY: a prefetch is only a hint: it never faults and has no effect on
    // memory, and `set` is a valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((set as *const Set<E>).cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri), not(epoch_cache_loom))))]
    let _ = set;
}

/// A free slot in the emptier set, the first set on a tie: sets fill evenly,
/// so a working set that fits the capacity stays resident (with first-fit
/// placement 900 keys in a 1,000-entry cache did not all fit), and a lookup
/// still ends in the first set it reads more often than not.
fn pick_free<E>(words: &[[*mut E; WAYS]; 2]) -> Option<(usize, usize)> {
    let free = words.map(|ws| ws.iter().filter(|w| w.is_null()).count());
    let which = if free[0] >= free[1] { 0 } else { 1 };
    Some((which, words[which].iter().position(|w| w.is_null())?))
}

impl<K, V, R: Reclaimer> Drop for Table<K, V, R> {
    fn drop(&mut self) {
        for set in self.sets.iter() {
            for slot in &set.slots {
                // Relaxed: `&mut self` means no other thread can touch the table.
                let word = slot.load(Ordering::Relaxed);
                if !word.is_null() {
                    // SAFETY: the slot owns the entry (Set invariant) and no
                    // guard exists (each borrows the cache), so it is ours to free.
                    unsafe { entry::free(word) };
                }
            }
        }
        // The reclaimer drops next (field order), reclaiming retired entries.
    }
}

/// Allocates `n` empty sets without touching them: all-zero is an empty set.
#[cfg(not(epoch_cache_loom))]
fn alloc_sets<E>(n: usize) -> Option<Box<[Set<E>]>> {
    let layout = std::alloc::Layout::array::<Set<E>>(n).ok()?;
    // SAFETY: `n >= 2`, so the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Set<E>>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: (1) `ptr` is a fresh allocation of `layout`, which is what a
    // `Box<[Set<E>]>` of length `n` deallocates with; (2) all-zero bytes are a
    // valid `Set`: null `AtomicPtr`s and a zero `AtomicU64`.
    Some(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, n)) })
}

/// Under loom, atomics must be constructed (they are tracked objects).
#[cfg(epoch_cache_loom)]
fn alloc_sets<E>(n: usize) -> Option<Box<[Set<E>]>> {
    Some((0..n).map(|_| Set::new()).collect())
}

#[cfg(all(test, not(epoch_cache_loom)))]
pub(crate) mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::clock;
    use crate::raw::reclaim::Crossbeam;

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
        let table: Table<u64, u64, Crossbeam> =
            Table::new(capacity, sets_for(capacity).unwrap(), hooks).unwrap();
        let hash = 0x1234_5678_9ABC_DEF0;
        let mut out = Departures::new(&table);
        let guard = table.reclaimer.pin();
        FAIL_LINKS.with(|n| n.set(2));
        let new = Unpublished(entry::alloc(1, 1, clock::NEVER));
        table.insert(&guard, &mut out, hash, new);
        assert_eq!(FAIL_LINKS.with(Cell::get), 0, "the insert retried twice");
        let probe = table.probe(hash);
        let found = table.find_visible(&guard, &probe, &1).expect("inserted");
        let policy = table.sets[probe.sets[found.which]]
            .policy
            .load(Ordering::Relaxed);
        assert!(
            policy::is_newcomer(policy, found.slot),
            "a brand-new key that retried was taken for one seen before"
        );
    }
}
