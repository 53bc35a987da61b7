//! A set: seven slots and one policy word, one 64-byte cache line.

use crate::sync::{AtomicPtr, AtomicU64};

/// Slots per set: seven pointers and the policy word fill one cache line.
pub(crate) const WAYS: usize = 7;

/// Seven slots and the policy bits of their entries.
#[repr(C, align(64))]
pub(crate) struct Set<E> {
    // Invariant: each slot holds a `Word` (`raw::word`): null, or an entry
    // pointer from `Unpublished::new` owned by the table, with its hints. A
    // pointer is in at most one slot, and a key in at most one visible slot
    // of its two sets.
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
}
