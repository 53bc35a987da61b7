//! The heap entry a slot points to: the key and the value, and a deadline
//! only for entries that have one.
//!
//! Policy bits live in the set and the tag in the slot word, so an entry
//! without a time to live costs exactly its key and value. An entry with one
//! is a `Timed` entry, which starts with the plain `Entry` (`repr(C)`, so a
//! pointer to it is also a pointer to its `Entry`) and adds the deadline; the
//! word's timed bit (`Word::is_timed`) says which of the two was allocated.
//! So a cache that uses no TTL pays neither the 8 bytes nor a clock read on
//! its hit path.

use super::reclaim::{drop_box, Reclaimer};
use super::word::Word;
use crate::clock;

/// One cached key and value, allocated once and never mutated.
#[repr(C)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// Forces an alignment of at least 4, so bits 0 and 1 of a pointer to an
    /// entry are free for the word's pending and timed bits.
    _align: [u32; 0],
}

/// An entry with a deadline.
#[repr(C)]
struct Timed<K, V> {
    // Invariant: first field, so a `*mut Timed` is a valid `*mut Entry`.
    entry: Entry<K, V>,
    /// When the entry expires, in `clock` milliseconds.
    deadline: u64,
}

/// Whether the entry behind `word` has expired.
///
/// # Safety
///
/// `word` (from `Unpublished::new`, possibly tagged since) points to a live
/// entry.
#[inline]
pub(crate) unsafe fn expired<K, V>(word: Word<Entry<K, V>>) -> bool {
    if !word.is_timed() {
        return false;
    }
    // SAFETY: the timed bit is set only by `Unpublished::new` on a `Timed`
    // allocation, which the caller promises is live.
    let deadline = unsafe { (*word.address().cast::<Timed<K, V>>()).deadline };
    clock::expired(deadline)
}

/// Frees an entry, dropping its key and value (a panic in their `Drop` is
/// discarded; the memory is freed either way).
///
/// # Safety
///
/// `word` came from `Unpublished::new` (possibly tagged since), and the
/// caller owns it: no one else can reach it any more.
pub(crate) unsafe fn free<K, V>(word: Word<Entry<K, V>>) {
    let ptr = word.address();
    if word.is_timed() {
        // SAFETY: a timed word came from `Box<Timed>` (see `Unpublished::new`).
        unsafe { drop_box(ptr.cast::<Timed<K, V>>()) }
    } else {
        // SAFETY: an untimed word came from `Box<Entry>`.
        unsafe { drop_box(ptr) }
    }
}

/// Hands an unlinked entry to the reclaimer, with the type it was allocated as.
///
/// # Safety
///
/// As `Reclaimer::retire`, for the allocation behind `word`.
pub(crate) unsafe fn retire<K: Send, V: Send, R: Reclaimer>(
    reclaimer: &R,
    guard: &R::Guard<'_>,
    word: Word<Entry<K, V>>,
) {
    let ptr = word.address();
    if word.is_timed() {
        // SAFETY: forwarded from the caller; the allocation is a `Box<Timed>`.
        unsafe { reclaimer.retire(guard, ptr.cast::<Timed<K, V>>()) }
    } else {
        // SAFETY: forwarded from the caller; the allocation is a `Box<Entry>`.
        unsafe { reclaimer.retire(guard, ptr) }
    }
}

/// An entry not yet linked into a slot: freed (value dropped) if the insert
/// unwinds before it is.
pub(crate) struct Unpublished<K, V> {
    // Invariant: from `Box::into_raw` of an `Entry` (or a `Timed` when the
    // word is timed), owned here until `publish`.
    word: Word<Entry<K, V>>,
}

impl<K, V> Unpublished<K, V> {
    /// Allocates an entry, timed unless `deadline` is `clock::NEVER`.
    pub(crate) fn new(key: K, value: V, deadline: u64) -> Self {
        let entry = Entry {
            key,
            value,
            _align: [],
        };
        let word = if deadline == clock::NEVER {
            Word::allocated(Box::into_raw(Box::new(entry)), false)
        } else {
            let timed = Box::into_raw(Box::new(Timed { entry, deadline }));
            Word::allocated(timed.cast::<Entry<K, V>>(), true)
        };
        Unpublished { word }
    }

    /// The entry's word, untagged, for the CAS that links it.
    pub(crate) fn word(&self) -> Word<Entry<K, V>> {
        self.word
    }

    /// The entry's key.
    pub(crate) fn key(&self) -> &K {
        // SAFETY: owned here (invariant), so live and not shared mutably.
        unsafe { &(*self.word.address()).key }
    }

    /// Hands the entry to the table, which linked it: it no longer frees it.
    pub(crate) fn publish(self) -> Word<Entry<K, V>> {
        let word = self.word;
        std::mem::forget(self);
        word
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: the word came from `new` and was never linked into a slot
        // (`publish` forgets `self`), so this is its only owner.
        unsafe { free(self.word) }
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn untimed_entries_cost_only_key_and_value() {
        assert_eq!(std::mem::size_of::<Entry<u64, u64>>(), 16);
        assert_eq!(std::mem::size_of::<Timed<u64, u64>>(), 24);
    }

    #[test]
    fn timed_words_carry_their_deadline() {
        let plain = Unpublished::new(1_u64, 2_u64, clock::NEVER);
        let timed = Unpublished::new(3_u64, 4_u64, clock::now().saturating_sub(1));
        assert!(!plain.word().is_timed());
        assert!(timed.word().is_timed());
        assert_eq!(*timed.key(), 3);
        // SAFETY: both are live and owned here.
        unsafe {
            assert!(!expired(plain.word()));
            assert!(expired(timed.word()));
            assert_eq!((*timed.word().address()).value, 4);
        }
    }
}
