//! A set: seven slots and one policy word, one 64-byte cache line.
//!
//! A slot word is a pointer to a heap `Entry` with two hints packed into bits
//! the pointer does not use:
//!
//! - bit 0, `PENDING`: the entry is an insert still checking that no other
//!   copy of its key exists. Readers skip it; see `Table::insert`.
//! - bits 48..56, the tag: eight bits of the key's hash, so a lookup
//!   dereferences only slots whose tag matches. The tag and the pointer change
//!   in one CAS, so a tag can never disagree with its slot.
//!
//! Bits 56..64 are left alone (AArch64 top-byte-ignore and memory tagging use
//! them). On targets where user-space addresses may use bits 48..56 the tag
//! is compiled out (`TAG_BITS == 0`) and every occupied slot is compared.

use crate::sync::{AtomicPtr, AtomicU64};

/// Slots per set: seven pointers and the policy word fill one cache line.
pub(crate) const WAYS: usize = 7;

pub(crate) const PENDING: usize = 1;

#[cfg(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const TAG_SHIFT: u32 = 48;
#[cfg(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) const TAG_MASK: usize = 0xFF << TAG_SHIFT;

#[cfg(not(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
const TAG_SHIFT: u32 = 0;
#[cfg(not(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub(crate) const TAG_MASK: usize = 0;

/// The hint bits of a word: everything but the address. (`entry::TIMED` is
/// set by the entry allocator, not here, but is no address bit either.)
const HINT_MASK: usize = TAG_MASK | PENDING | super::entry::TIMED;

/// The tag bits of a key's hash, already shifted into place.
#[inline]
pub(crate) fn tag_bits(hash: u64) -> usize {
    // A multiply mixes every hash bit into the top byte, so the tag is
    // independent of the bits that chose the two sets.
    let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56;
    ((mixed as usize) << TAG_SHIFT) & TAG_MASK
}

/// Packs an entry pointer (which may carry `entry::TIMED`) with its tag and
/// pending bit into a slot word.
#[inline]
pub(crate) fn pack<T>(ptr: *mut T, tag: usize, pending: bool) -> *mut T {
    assert!(
        ptr.addr() & (TAG_MASK | PENDING) == 0,
        "epoch-cache: the allocator returned an address using bits 48..56 (or an odd one); \
         this target is not supported with tagged slots"
    );
    ptr.map_addr(|addr| addr | tag | if pending { PENDING } else { 0 })
}

/// The entry address inside a slot word (all hint bits cleared).
#[inline]
pub(crate) fn unpack<T>(word: *mut T) -> *mut T {
    word.map_addr(|addr| addr & !HINT_MASK)
}

#[inline]
pub(crate) fn is_pending<T>(word: *mut T) -> bool {
    word.addr() & PENDING != 0
}

/// Whether `word` holds a visible (not pending) entry whose tag is `tag`.
#[inline]
pub(crate) fn matches_visible<T>(word: *mut T, tag: usize) -> bool {
    !word.is_null() && word.addr() & (TAG_MASK | PENDING) == tag
}

/// Whether `word` holds an entry, visible or pending, whose tag is `tag`.
#[inline]
pub(crate) fn matches_any<T>(word: *mut T, tag: usize) -> bool {
    !word.is_null() && word.addr() & TAG_MASK == tag
}

/// Seven slots and the policy bits of their entries.
#[repr(C, align(64))]
pub(crate) struct Set<E> {
    // Invariant: each slot is null or a word made by `pack` from a
    // `Box::into_raw` pointer owned by the table. A pointer is in at most one
    // slot, and a key in at most one visible slot of its two sets.
    pub(crate) slots: [AtomicPtr<E>; WAYS],
    /// One byte per slot, read and written by `policy`. Hints only: a stale
    /// byte costs hit ratio, never correctness.
    pub(crate) policy: AtomicU64,
}

impl<E> Set<E> {
    #[cfg_attr(not(epoch_cache_loom), allow(dead_code))]
    pub(crate) fn new() -> Self {
        Set {
            slots: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            policy: AtomicU64::new(0),
        }
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn set_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Set<u64>>(), 64);
        assert_eq!(std::mem::align_of::<Set<u64>>(), 64);
    }

    #[test]
    fn pack_round_trips() {
        let ptr = Box::into_raw(Box::new(7_u32));
        for hash in [0_u64, 1, u64::MAX, 0xDEAD_BEEF_1234_5678] {
            let tag = tag_bits(hash);
            for pending in [false, true] {
                let word = pack(ptr, tag, pending);
                assert_eq!(unpack(word), ptr);
                assert_eq!(is_pending(word), pending);
                assert_eq!(matches_visible(word, tag), !pending);
                assert!(matches_any(word, tag));
            }
        }
        // SAFETY: `ptr` came from `Box::into_raw` above and was never shared.
        drop(unsafe { Box::from_raw(ptr) });
    }

    #[test]
    fn null_matches_nothing() {
        let null: *mut u64 = std::ptr::null_mut();
        assert!(!matches_visible(null, 0));
        assert!(!matches_any(null, 0));
    }
}
