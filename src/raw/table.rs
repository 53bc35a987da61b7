//! The lock-free table: fixed sets of atomic slots, two candidate sets per
//! key. This file holds the layout, the lookups and the removals; the insert
//! protocol is in `insert.rs`, the invariant checker in `validate.rs`.
//!
//! Every operation is a handful of loads and one or two CASes on slot words:
//!
//! - `get` scans the tags of the key's two sets and compares the key of each
//!   visible slot whose tag matches. It stores nothing but a policy hint, and
//!   that only when the hint would change.
//! - `remove` CASes the key's visible slot to null; the winner retires it.
//! - `insert` (see `insert.rs`) replaces the key's visible slot, or links a
//!   new key as pending and settles it, so that a key is visible in at most
//!   one slot at any instant.
//!
//! Retire exactly once: only the thread whose CAS took a pointer out of a slot
//! retires it. `len` counts occupied slots plus tickets held by inserts in
//! flight, and a ticket is taken only while `len < capacity`, so
//! `len() <= capacity()` holds at every instant. With a weigher, `weight` is
//! kept the same way (see `weight.rs`); time to idle is in `idle.rs`.

use std::borrow::Borrow;

use crossbeam_utils::CachePadded;

use super::departures::Departures;
use super::entry::{self, Entry, Shape};
use super::hooks::Hooks;
use super::policy;
use super::reclaim::Reclaimer;
use super::set::{Set, WAYS};
use super::word::{Tag, Word};
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use crate::RemovalCause;

/// The ordering of the CASes that make an entry reachable: linking it
/// (pending or visible) and un-pending it.
///
/// Release is what readers need: a thread that Acquires the word sees the
/// entry's fields. Nor does `settle`'s argument (in `insert.rs`) need more:
/// it rests on the SeqCst fences each racing insert issues after linking,
/// and a link sequenced before one SeqCst fence is seen by loads after any
/// later one, whatever the link's own ordering. SeqCst is kept all the same,
/// as belt and braces: it costs nothing on x86-64, where every CAS is a
/// locked full barrier (the same `lock cmpxchg` for Release and SeqCst), and
/// loom, which models SeqCst as AcqRel, could not show a weaker ordering
/// safe, only fail to show it unsafe.
#[cfg(not(epoch_cache_mutant = "relaxed_publish"))]
pub(super) const PUBLISH: Ordering = Ordering::SeqCst;
/// Mutant: publishing without Release lets a reader see an entry before its
/// fields. The verification suite must catch this.
#[cfg(epoch_cache_mutant = "relaxed_publish")]
pub(super) const PUBLISH: Ordering = Ordering::Relaxed;

/// One of a key's two candidate sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Side {
    First,
    Second,
}

impl Side {
    pub(super) const BOTH: [Side; 2] = [Side::First, Side::Second];

    #[inline]
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// The two candidate sets of a key and its tag.
#[derive(Clone, Copy)]
pub(super) struct Probe {
    sets: [usize; 2],
    pub(super) tag: Tag,
    pub(super) hash: u64,
}

impl Probe {
    /// The index of the set on `side`.
    #[inline]
    pub(super) fn set(&self, side: Side) -> usize {
        self.sets[side.index()]
    }
}

/// A slot located by a scan: which side, which slot, and the word in it.
pub(super) struct Found<K, V> {
    pub(super) side: Side,
    pub(super) slot: usize,
    pub(super) word: Word<Entry<K, V>>,
}

pub(crate) struct Table<K, V, R: Reclaimer> {
    pub(super) sets: Box<[Set<Entry<K, V>>]>,
    pub(super) capacity: usize,
    // Invariant: len == occupied slots + tickets held by inserts in flight,
    // and len <= capacity.
    pub(super) len: CachePadded<AtomicUsize>,
    pub(super) ghost: policy::Ghost,
    pub(crate) hooks: Hooks<K, V>,
    /// Set once any entry has a deadline: inserts then sweep expired entries
    /// out of the sets they write.
    pub(super) has_deadlines: crate::sync::unmodeled::AtomicBool,
    /// Where the next eviction outside a key's own sets starts looking.
    pub(super) hand: CachePadded<AtomicUsize>,
    /// The trailer words of every entry (weight, idle deadline).
    pub(crate) shape: Shape,
    // Invariant: weight == the weights of occupied slots + weight reserved by
    // inserts in flight, and weight <= max_weight. Untouched unless weighted.
    pub(super) weight: CachePadded<AtomicU64>,
    pub(super) max_weight: u64,
    /// The time to idle in clock milliseconds (0 when the shape has none).
    pub(super) idle_ms: u64,
    pub(crate) reclaimer: R,
}

/// What a table bounds besides its entry count, fixed at build time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// The bound on total weight, if the cache has a weigher.
    pub(crate) max_weight: Option<u64>,
    /// The time to idle in `clock` milliseconds, if any (at least 1).
    pub(crate) idle_ms: Option<u64>,
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
    pub(crate) fn new(
        capacity: usize,
        sets: usize,
        hooks: Hooks<K, V>,
        limits: Limits,
    ) -> Option<Self> {
        Some(Table {
            sets: alloc_sets(sets)?,
            ghost: policy::Ghost::new(sets * WAYS)?,
            hooks,
            // Every entry of an idle cache has a deadline.
            has_deadlines: crate::sync::unmodeled::AtomicBool::new(limits.idle_ms.is_some()),
            capacity,
            len: CachePadded::new(AtomicUsize::new(0)),
            hand: CachePadded::new(AtomicUsize::new(0)),
            shape: Shape {
                weighted: limits.max_weight.is_some(),
                idle: limits.idle_ms.is_some(),
            },
            weight: CachePadded::new(AtomicU64::new(0)),
            max_weight: limits.max_weight.unwrap_or(u64::MAX),
            idle_ms: limits.idle_ms.unwrap_or(0),
            reclaimer: R::new(capacity),
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

    /// The number of sets, for walks set by set.
    pub(crate) fn set_count(&self) -> usize {
        self.sets.len()
    }

    /// An empty list for what an operation unlinks; declare it before the
    /// operation's guard, so that it drops (calling the listener) after.
    #[inline]
    pub(crate) fn departures(&self) -> Departures<'_, K, V, R>
    where
        K: Send,
        V: Send,
    {
        Departures::new(&self.hooks, &self.reclaimer, self.shape)
    }

    #[inline]
    pub(super) fn probe(&self, hash: u64) -> Probe {
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
            tag: Tag::of(hash),
            hash,
        }
    }

    #[inline]
    pub(super) fn slot(&self, probe: &Probe, side: Side, slot: usize) -> &AtomicPtr<Entry<K, V>> {
        &self.sets[probe.set(side)].slots[slot]
    }

    #[inline]
    pub(super) fn policy_of(&self, probe: &Probe, side: Side) -> &crate::sync::AtomicU64 {
        &self.sets[probe.set(side)].policy
    }

    /// Loads a slot through `guard`.
    #[inline]
    pub(crate) fn load(
        &self,
        guard: &R::Guard<'_>,
        slot: &AtomicPtr<Entry<K, V>>,
    ) -> Word<Entry<K, V>> {
        // Acquire: pairs with the PUBLISH CAS that linked the word's entry, so
        // its key and value are initialised when this thread reads them.
        Word::from_raw(R::protect(guard, slot, Ordering::Acquire))
    }

    /// Finds the visible entry of `key`, if any. Always inlined: it is the
    /// first step of every insert and lookup, and a call costs the insert
    /// path more than the code it duplicates (measured with callgrind).
    #[inline(always)]
    pub(super) fn find_visible<Q>(
        &self,
        guard: &R::Guard<'_>,
        probe: &Probe,
        key: &Q,
    ) -> Option<Found<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        prefetch(&self.sets[probe.set(Side::Second)]);
        for side in Side::BOTH {
            let set = &self.sets[probe.set(side)];
            for slot in 0..WAYS {
                let word = self.load(guard, &set.slots[slot]);
                if word.matches_visible(probe.tag) {
                    // SAFETY: a non-null word holds a live entry (Set invariant),
                    // and `protect` keeps it alive while `guard` lives.
                    let entry = unsafe { &*word.address() };
                    if entry.key.borrow() == key {
                        return Some(Found { side, slot, word });
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
        let entry = unsafe { &*found.word.address() };
        // SAFETY: live and protected, as above. (Checks expiry, and notes
        // the read for the time to idle, if the cache has one.)
        if unsafe { !self.hit(found.word) } {
            return None;
        }
        policy::record_hit(self.policy_of(&probe, found.side), found.slot);
        Some(entry)
    }

    /// Looks `key` up like `get`, and counts the lookup in the statistics:
    /// the one lookup behind every read the user makes.
    #[inline]
    pub(crate) fn lookup<'g, Q>(
        &self,
        guard: &'g R::Guard<'_>,
        hash: u64,
        key: &Q,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let found = self.get(guard, hash, key);
        if let Some(stats) = &self.hooks.stats {
            stats.lookup(found.is_some());
        }
        found
    }

    /// Removes the visible entry of `key`, returning it if this call
    /// unlinked it (an expired entry is unlinked too, as `Expired`, but not
    /// returned); it leaves with `cause`. It stays allocated while `guard`
    /// lives, retired or not.
    pub(crate) fn remove<'g, Q>(
        &self,
        guard: &'g R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        hash: u64,
        key: &Q,
        cause: RemovalCause,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q> + Send,
        V: Send,
        Q: Eq + ?Sized,
    {
        let probe = self.probe(hash);
        while let Some(found) = self.find_visible(guard, &probe, key) {
            if self.unlink(self.slot(&probe, found.side, found.slot), found.word) {
                self.release(found.word);
                // SAFETY: unlinked by us, still protected by `guard`.
                let expired = unsafe { self.expired(found.word) };
                let cause = if expired {
                    RemovalCause::Expired
                } else {
                    cause
                };
                self.retire(guard, out, found.word, cause);
                // SAFETY: unlinked by us and retired (or kept by `out`) no
                // earlier than now, so protected by `guard` for `'g`.
                let entry = unsafe { &*found.word.address() };
                return (!expired).then_some(entry);
            }
        }
        None
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
            let word = self.load(guard, slot);
            if word.is_visible() && self.unlink(slot, word) {
                self.release(word);
                self.retire(guard, out, word, RemovalCause::Cleared);
            }
        }
    }

    /// CASes `word` out of `slot`; true if this thread unlinked it (and so
    /// must retire it, or withdraw it if it was pending).
    #[inline]
    pub(super) fn unlink(&self, slot: &AtomicPtr<Entry<K, V>>, word: Word<Entry<K, V>>) -> bool {
        // AcqRel on success: Acquire orders the retire after every write that
        // linked the entry; Release keeps this thread's earlier reads of it
        // before the unlink. Relaxed on failure: we only retry or give up.
        slot.compare_exchange(
            word.into_raw(),
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
    pub(super) fn retire(
        &self,
        guard: &R::Guard<'_>,
        out: &mut Departures<'_, K, V, R>,
        word: Word<Entry<K, V>>,
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
    /// departure without a listener, or a pending entry withdrawn, which was
    /// never visible and so never in the cache.
    #[inline]
    pub(super) fn retire_now(&self, guard: &R::Guard<'_>, word: Word<Entry<K, V>>)
    where
        K: Send,
        V: Send,
    {
        // (4) `self.shape` is the shape the table allocates its entries with.
        // (1) the word came from `Unpublished`, and only the thread whose CAS
        // unlinked it gets here, once; (2) no slot holds it, so no later guard
        // can load it; (3) K and V are Send.
        // SAFETY: retire's contract holds, by (1)-(4) just above.
        unsafe { entry::retire(&self.reclaimer, guard, self.shape, word) }
    }

    /// Takes a ticket if `len < capacity`.
    #[inline]
    pub(super) fn take_ticket(&self) -> bool {
        // Relaxed: a counter; the bound holds by the modification order of
        // `len` alone.
        self.len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    #[inline]
    pub(super) fn release_ticket(&self) {
        // Relaxed: a counter, as in `take_ticket`.
        self.len.fetch_sub(1, Ordering::Relaxed);
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
            let word = self.load(guard, slot);
            // SAFETY: a visible word holds a live entry (Set invariant),
            // protected by `guard`; the borrow ends with this call.
            if word.is_visible() && unsafe { !self.expired(word) } {
                // SAFETY: as above.
                visit(unsafe { &*word.address() });
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
            let word = self.load(guard, slot);
            if !word.is_visible() {
                continue;
            }
            // SAFETY: a live entry (Set invariant) protected by `guard`.
            let entry = unsafe { &*word.address() };
            // SAFETY: live and protected, as above.
            let cause = if unsafe { self.expired(word) } {
                RemovalCause::Expired
            } else if !keep(&entry.key, &entry.value) {
                RemovalCause::Removed
            } else {
                continue;
            };
            if self.unlink(slot, word) {
                self.release(word);
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
}

impl<K, V, R: Reclaimer> Drop for Table<K, V, R> {
    fn drop(&mut self) {
        for set in self.sets.iter() {
            for slot in &set.slots {
                // Relaxed: `&mut self` means no other thread can touch the table.
                let word = Word::from_raw(slot.load(Ordering::Relaxed));
                if !word.is_null() {
                    // SAFETY: the slot owns the entry (Set invariant) and no
                    // guard exists (each borrows the cache), so it is ours to
                    // free; the table allocates its entries with its shape.
                    unsafe { entry::free(self.shape, word) };
                }
            }
        }
        // The reclaimer drops next (field order), reclaiming retired entries.
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
