//! Entries that have left the table and still await their listener call.
//!
//! The eviction listener is user code, and user code must never run while
//! the crate holds a pin on the user's behalf: a pinned thread holds back the
//! reclamation of every thread's garbage for as long as the listener takes.
//! So when a cache has a listener, an operation does not retire what it
//! unlinks; it keeps each entry here. The thread that unlinked an entry owns
//! it until it retires it, so once the operation's guard is gone the entry can
//! be shown to the listener without any pin, and then retired under a fresh,
//! short one.
//!
//! A `Departures` is declared before the operation's guard, so it drops after
//! the guard, on every exit, unwinding included: nothing unlinked is leaked.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::entry::{self, Entry, Shape};
use super::hooks::Hooks;
use super::reclaim::{discard_panic, Reclaimer};
use super::word::Word;
use crate::RemovalCause;

/// Retires one entry, with the bounds that `entry::retire` needs fixed where
/// the `Departures` was made (a `Ref` that carries one has no such bounds).
type RetireFn<K, V, R> =
    for<'g, 'c> unsafe fn(&R, &'g <R as Reclaimer>::Guard<'c>, Shape, Word<Entry<K, V>>);

/// Unlinked entries awaiting the listener, then retirement.
pub(crate) struct Departures<'t, K, V, R: Reclaimer> {
    hooks: &'t Hooks<K, V>,
    reclaimer: &'t R,
    // Invariant: each word was unlinked from its slot by this thread's CAS
    // and has not been retired: this list owns it, and nothing frees it
    // before `drop` retires it.
    unlinked: Vec<(Word<Entry<K, V>>, RemovalCause)>,
    retire: RetireFn<K, V, R>,
    /// The shape of the table's entries, which `retire` needs.
    shape: Shape,
}

impl<'t, K: Send, V: Send, R: Reclaimer> Departures<'t, K, V, R> {
    /// An empty list; it allocates only if a listener is set and an entry
    /// leaves.
    #[inline]
    pub(crate) fn new(hooks: &'t Hooks<K, V>, reclaimer: &'t R, shape: Shape) -> Self {
        Departures {
            hooks,
            reclaimer,
            unlinked: Vec::new(),
            retire: entry::retire::<K, V, R>,
            shape,
        }
    }
}

impl<'t, K, V, R: Reclaimer> Departures<'t, K, V, R> {
    /// Takes ownership of an entry this thread just unlinked (and must not
    /// retire itself).
    ///
    /// # Safety
    ///
    /// `word` was unlinked from its slot by this thread's CAS, is in no slot,
    /// and nothing else will retire or free it.
    #[inline]
    pub(crate) unsafe fn keep(&mut self, word: Word<Entry<K, V>>, cause: RemovalCause) {
        self.unlinked.push((word, cause));
    }

    /// Moves the list to the heap when it holds anything, for a `Ref` to
    /// carry until it drops (a `Ref` keeps a pin, so the listener must wait).
    #[inline]
    pub(crate) fn boxed(self) -> Option<Box<Self>> {
        (!self.unlinked.is_empty()).then(|| Box::new(self))
    }
}

impl<K, V, R: Reclaimer> Drop for Departures<'_, K, V, R> {
    fn drop(&mut self) {
        if self.unlinked.is_empty() {
            return;
        }
        if let Some(listener) = &self.hooks.listener {
            for &(word, cause) in &self.unlinked {
                // SAFETY: owned by this list (invariant): it is allocated until
                // the retire below, and its fields are initialised (the unlink
                // CAS acquired them).
                let entry = unsafe { &*word.address() };
                // A panicking listener must not stop the others or the retire
                // below; its panic is discarded, payload too.
                discard_panic(catch_unwind(AssertUnwindSafe(|| {
                    listener(&entry.key, &entry.value, cause)
                })));
            }
        }
        let guard = self.reclaimer.pin();
        for (word, _) in self.unlinked.drain(..) {
            // Retire's contract, point by point: (1) each word came from
            // `Unpublished` and is retired once, here, by its owner; (2) it is
            // in no slot, so no guard pinned from now on can load it.
            // SAFETY: (1) and (2) by the invariant, as just said; (3) K and V
            // are Send, as `new` required to build `retire`; the shape is the
            // table's, which allocated the word.
            unsafe { (self.retire)(self.reclaimer, &guard, self.shape, word) }
        }
    }
}
