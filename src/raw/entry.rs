//! The heap entry a slot points to: the key and the value, and a deadline
//! only for entries that have one.
//!
//! Policy bits live in the set and the tag in the slot word, so an entry
//! without a time to live costs exactly its key and value. An entry with one
//! is a `Timed` entry, which starts with the plain `Entry` (`repr(C)`, so a
//! pointer to it is also a pointer to its `Entry`) and adds the deadline; bit
//! 1 of its pointer, `TIMED`, says which of the two was allocated. So a cache
//! that uses no TTL pays neither the 8 bytes nor a clock read on its hit path.

use crate::clock;

/// Bit 1 of an entry pointer: it points to a `Timed` entry.
pub(crate) const TIMED: usize = 2;

/// One cached key and value, allocated once and never mutated.
#[repr(C)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// Forces an alignment of at least 4, so bits 0 and 1 of a pointer to an
    /// entry are free for `set::PENDING` and `TIMED`.
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

/// Allocates an entry, timed unless `deadline` is `clock::NEVER`. Returns a
/// pointer with `TIMED` set for a timed entry.
pub(crate) fn alloc<K, V>(key: K, value: V, deadline: u64) -> *mut Entry<K, V> {
    let entry = Entry {
        key,
        value,
        _align: [],
    };
    if deadline == clock::NEVER {
        Box::into_raw(Box::new(entry))
    } else {
        let timed = Box::into_raw(Box::new(Timed { entry, deadline }));
        timed.cast::<Entry<K, V>>().map_addr(|addr| addr | TIMED)
    }
}

/// The address of the entry in a pointer or slot word.
#[inline]
pub(crate) fn address<K, V>(word: *mut Entry<K, V>) -> *mut Entry<K, V> {
    super::set::unpack(word)
}

/// Whether the entry behind `word` has expired.
///
/// # Safety
///
/// `word` (a pointer from `alloc`, possibly with slot hint bits) points to a
/// live entry.
#[inline]
pub(crate) unsafe fn expired<K, V>(word: *mut Entry<K, V>) -> bool {
    if word.addr() & TIMED == 0 {
        return false;
    }
    // SAFETY: `TIMED` is set only by `alloc` on a `Timed` allocation, which
    // the caller promises is live.
    let deadline = unsafe { (*address(word).cast::<Timed<K, V>>()).deadline };
    clock::expired(deadline)
}

/// Frees an entry, dropping its key and value (a panic in their `Drop` is
/// discarded; the memory is freed either way).
///
/// # Safety
///
/// `word` came from `alloc` (possibly with slot hint bits), and the caller
/// owns it: no one else can reach it any more.
pub(crate) unsafe fn free<K, V>(word: *mut Entry<K, V>) {
    let ptr = address(word);
    if word.addr() & TIMED == 0 {
        // SAFETY: an untimed pointer came from `Box<Entry>` (see `alloc`).
        unsafe { super::reclaim::drop_box(ptr) }
    } else {
        // SAFETY: a timed pointer came from `Box<Timed>` (see `alloc`).
        unsafe { super::reclaim::drop_box(ptr.cast::<Timed<K, V>>()) }
    }
}

/// Hands an unlinked entry to the reclaimer, with the type it was allocated as.
///
/// # Safety
///
/// As `Reclaimer::retire`, for the allocation behind `word`.
pub(crate) unsafe fn retire<K: Send, V: Send, R: super::reclaim::Reclaimer>(
    reclaimer: &R,
    guard: &R::Guard<'_>,
    word: *mut Entry<K, V>,
) {
    let ptr = address(word);
    if word.addr() & TIMED == 0 {
        // SAFETY: forwarded from the caller; the allocation is a `Box<Entry>`.
        unsafe { reclaimer.retire(guard, ptr) }
    } else {
        // SAFETY: forwarded from the caller; the allocation is a `Box<Timed>`.
        unsafe { reclaimer.retire(guard, ptr.cast::<Timed<K, V>>()) }
    }
}

/// An entry not yet published: freed (value dropped) if the insert unwinds.
pub(crate) struct Unpublished<K, V>(pub(crate) *mut Entry<K, V>);

impl<K, V> Unpublished<K, V> {
    /// Hands the pointer to the table: it no longer frees it.
    pub(crate) fn publish(self) -> *mut Entry<K, V> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `alloc` and was never linked into a
        // slot (`publish` forgets `self`), so this is its only owner.
        unsafe { free(self.0) }
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
    fn timed_pointers_carry_their_deadline() {
        let plain = alloc(1_u64, 2_u64, clock::NEVER);
        let timed = alloc(3_u64, 4_u64, clock::now().saturating_sub(1));
        assert_eq!(plain.addr() & TIMED, 0);
        assert_eq!(timed.addr() & TIMED, TIMED);
        // SAFETY: both are live and owned here.
        unsafe {
            assert!(!expired(plain));
            assert!(expired(timed));
            assert_eq!((*address(timed)).value, 4);
            free(plain);
            free(timed);
        }
    }
}
