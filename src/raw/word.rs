//! A slot word: a pointer to a heap entry, with three hints packed into bits
//! the pointer does not use. This module alone packs and unpacks them.
//!
//! - bit 0, pending: the entry is an insert still checking that no other
//!   copy of its key exists. Readers skip it; see `Table::insert`.
//! - bit 1, timed: the entry was allocated with a deadline (`entry::Timed`).
//!   Set once by the allocator, it travels with the pointer into every slot.
//! - bits 48..56, the tag: eight bits of the key's hash, so a lookup
//!   dereferences only slots whose tag matches. The tag and the pointer change
//!   in one CAS, so a tag can never disagree with its slot.
//!
//! Bits 56..64 are left alone (AArch64 top-byte-ignore and memory tagging use
//! them). On targets where user-space addresses may use bits 48..56 the tag
//! is compiled out (`TAG_MASK == 0`) and every occupied slot is compared.
//! Entries are aligned to at least 4 (`entry::Entry`), so bits 0 and 1 of
//! their addresses are always zero.

const PENDING: usize = 1;
const TIMED: usize = 2;

#[cfg(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const TAG_SHIFT: u32 = 48;
#[cfg(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const TAG_MASK: usize = 0xFF << TAG_SHIFT;

#[cfg(not(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
const TAG_SHIFT: u32 = 0;
#[cfg(not(all(
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
const TAG_MASK: usize = 0;

/// The hint bits of a word: everything but the address.
const HINT_MASK: usize = TAG_MASK | PENDING | TIMED;

/// Eight bits of a key's hash, already shifted into a word's tag bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tag(usize);

impl Tag {
    /// The tag of a key's hash.
    #[inline]
    pub(crate) fn of(hash: u64) -> Tag {
        // A multiply mixes every hash bit into the top byte, so the tag is
        // independent of the bits that chose the two sets.
        let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56;
        Tag(((mixed as usize) << TAG_SHIFT) & TAG_MASK)
    }
}

/// A slot word: null, or an entry pointer with its hints.
///
/// A plain value: copying one copies the pointer, never the entry. It is
/// what slots hold (as a raw pointer, in an `AtomicPtr`) and what the table
/// passes around between a load and the CAS that expects it.
pub(crate) struct Word<E>(*mut E);

impl<E> Clone for Word<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Word<E> {}

impl<E> PartialEq for Word<E> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<E> std::fmt::Debug for Word<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Word({:p})", self.0)
    }
}

impl<E> Word<E> {
    /// The empty slot.
    pub(crate) const NULL: Word<E> = Word(std::ptr::null_mut());

    /// A freshly allocated entry, not yet in a slot: no tag, not pending.
    #[inline]
    pub(crate) fn allocated(ptr: *mut E, timed: bool) -> Word<E> {
        assert!(
            ptr.addr() & HINT_MASK == 0,
            "epoch-cache: the allocator returned an address using bits 48..56 (or one not \
             aligned to 4); this target is not supported with tagged slots"
        );
        Word(ptr.map_addr(|addr| addr | if timed { TIMED } else { 0 }))
    }

    /// The word as a slot stores it.
    #[inline]
    pub(crate) fn into_raw(self) -> *mut E {
        self.0
    }

    /// A word as loaded from a slot.
    #[inline]
    pub(crate) fn from_raw(raw: *mut E) -> Word<E> {
        Word(raw)
    }

    /// This entry with `tag`, pending or visible: the word to link.
    #[inline]
    pub(crate) fn tagged(self, tag: Tag, pending: bool) -> Word<E> {
        let base = self.0.addr() & !(TAG_MASK | PENDING);
        Word(
            self.0
                .with_addr(base | tag.0 | if pending { PENDING } else { 0 }),
        )
    }

    #[inline]
    pub(crate) fn is_null(self) -> bool {
        self.0.is_null()
    }

    /// The entry's address, every hint cleared.
    #[inline]
    pub(crate) fn address(self) -> *mut E {
        self.0.map_addr(|addr| addr & !HINT_MASK)
    }

    #[inline]
    pub(crate) fn is_pending(self) -> bool {
        self.0.addr() & PENDING != 0
    }

    /// Whether the entry was allocated with a deadline.
    #[inline]
    pub(crate) fn is_timed(self) -> bool {
        self.0.addr() & TIMED != 0
    }

    /// Whether the word holds a visible (not pending) entry.
    #[inline]
    pub(crate) fn is_visible(self) -> bool {
        !self.is_null() && !self.is_pending()
    }

    /// Whether the word holds a visible entry whose tag is `tag`.
    #[inline]
    pub(crate) fn matches_visible(self, tag: Tag) -> bool {
        !self.is_null() && self.0.addr() & (TAG_MASK | PENDING) == tag.0
    }

    /// Whether the word holds an entry, visible or pending, whose tag is `tag`.
    #[inline]
    pub(crate) fn matches_any(self, tag: Tag) -> bool {
        !self.is_null() && self.0.addr() & TAG_MASK == tag.0
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        let ptr = Box::into_raw(Box::new(7_u32));
        for timed in [false, true] {
            let fresh = Word::allocated(ptr, timed);
            assert_eq!(fresh.is_timed(), timed);
            for hash in [0_u64, 1, u64::MAX, 0xDEAD_BEEF_1234_5678] {
                let tag = Tag::of(hash);
                for pending in [false, true] {
                    let word = fresh.tagged(tag, pending);
                    assert_eq!(word.address(), ptr);
                    assert_eq!(word.is_pending(), pending);
                    assert_eq!(word.is_timed(), timed);
                    assert_eq!(word.matches_visible(tag), !pending);
                    assert!(word.matches_any(tag));
                    assert_eq!(Word::from_raw(word.into_raw()), word);
                }
            }
        }
        // SAFETY: `ptr` came from `Box::into_raw` above and was never shared.
        drop(unsafe { Box::from_raw(ptr) });
    }

    #[test]
    fn null_matches_nothing() {
        let null: Word<u64> = Word::NULL;
        assert!(!null.matches_visible(Tag::of(0)));
        assert!(!null.matches_any(Tag::of(0)));
        assert!(!null.is_visible());
    }
}
