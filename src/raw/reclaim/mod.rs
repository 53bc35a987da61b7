//! Reclamation backends behind one small trait: pin a guard, protect a load,
//! retire a pointer.
//!
//! The table never names crossbeam-epoch or seize; it asks its `Reclaimer`.
//! Both backends give every cache its own collector, so every retired entry
//! is reclaimed by the time the cache (and with it the collector) is dropped.
//! Both work from any thread at any time, thread-local destructors included,
//! and neither keeps anything of a thread that has exited.

use std::panic::{self, AssertUnwindSafe};

use crate::sync::{AtomicPtr, Ordering};

mod crossbeam;
#[cfg(not(epoch_cache_loom))]
mod seize;

pub use self::crossbeam::{Crossbeam, CrossbeamGuard};
#[cfg(not(epoch_cache_loom))]
pub use self::seize::Seize;

mod sealed {
    pub trait Sealed {}
}

/// A memory-reclamation scheme for [`Cache`](crate::Cache).
///
/// Implemented by [`Crossbeam`] (the default) and [`Seize`]; the trait is
/// sealed. Pick one with the cache's last type parameter:
///
/// ```
/// use epoch_cache::{Cache, DefaultHashBuilder, Seize};
///
/// let cache: Cache<u64, u64, DefaultHashBuilder, Seize> =
///     Cache::builder().capacity(100).reclaimer::<Seize>().build().unwrap();
/// cache.insert(1, 2);
/// assert_eq!(cache.get_cloned(&1), Some(2));
/// ```
pub trait Reclaimer: sealed::Sealed + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// Keeps everything loaded through it alive until it is dropped.
    #[doc(hidden)]
    type Guard<'a>;

    /// A reclaimer for a cache of `capacity` entries (which may size how
    /// much garbage a thread batches before reclaiming).
    #[doc(hidden)]
    fn new(capacity: usize) -> Self;

    #[doc(hidden)]
    fn pin(&self) -> Self::Guard<'_>;

    /// Loads `slot` so that the pointer stays valid while `guard` lives.
    #[doc(hidden)]
    fn protect<T>(guard: &Self::Guard<'_>, slot: &AtomicPtr<T>, order: Ordering) -> *mut T;

    /// Drops the value at `ptr` and recycles its block (`drop_box`) once no
    /// guard can still observe it.
    ///
    /// # Safety
    ///
    /// 1. `ptr` came from `pool::allocate` (or `Box::into_raw`) and is
    ///    retired exactly once.
    /// 2. It is no longer reachable from the table: a guard pinned after this
    ///    call can never load it.
    /// 3. `T` is `Send`: the drop may run on another thread.
    #[doc(hidden)]
    unsafe fn retire<T: Send>(&self, guard: &Self::Guard<'_>, ptr: *mut T);
}

/// Drops a retired box, swallowing a panic from the value's `Drop`, and
/// recycles its block (see `pool`).
///
/// Reclamation runs on whichever thread happens to collect; a panic there has
/// no caller that could handle it. The block is recycled either way.
///
/// # Safety
///
/// `ptr` came from `Box::into_raw` or `pool::allocate`, and no one else can
/// reach it any more.
pub(crate) unsafe fn drop_box<T>(ptr: *mut T) {
    // SAFETY: the caller hands over sole ownership of a live value.
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe { ptr.drop_in_place() }));
    discard_panic(dropped);
    // SAFETY: from `pool::allocate` or `Box::into_raw` (the caller's
    // promise), its value dropped just above (or half-dropped by a panic,
    // which leaves nothing to drop), and no one else can reach it.
    unsafe { super::pool::release(ptr) }
}

/// Discards a caught panic. The payload is forgotten, not dropped: a payload
/// whose own `Drop` panics would otherwise escape right here, in the middle of
/// an operation that must finish (a leak of the payload is the lesser harm).
pub(crate) fn discard_panic(result: std::thread::Result<()>) {
    if let Err(payload) = result {
        std::mem::forget(payload);
    }
}

/// The default backend: crossbeam-epoch, chosen by measurement.
///
/// On the read path (a pin and an unpin around every `get`), crossbeam's pin
/// (one `lock cmpxchg`) beat seize's enter and leave (a store, then an `xchg`,
/// plus two thread-local lookups) in every one-thread run here: 75 to 86
/// against 65 to 70 million gets a second on 16,384 hot keys (see
/// BENCHMARKS.md for the full tables). It is also the backend that loom models.
/// Seize remains available; it bounds garbage per thread more tightly.
///
/// ```
/// use epoch_cache::{Cache, Crossbeam, DefaultHashBuilder, DefaultReclaimer};
/// use std::any::TypeId;
///
/// assert_eq!(TypeId::of::<DefaultReclaimer>(), TypeId::of::<Crossbeam>());
/// let cache: Cache<u64, u64, DefaultHashBuilder, DefaultReclaimer> = Cache::new(10);
/// cache.insert(1, 2);
/// assert_eq!(cache.get_cloned(&1), Some(2));
/// ```
pub type DefaultReclaimer = Crossbeam;

#[cfg(all(test, not(any(epoch_cache_loom, epoch_cache_no_pool))))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::raw::pool;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted(#[allow(dead_code)] [u64; 3]);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_recycled_block_is_reused_on_its_thread() {
        std::thread::spawn(|| {
            let first = pool::allocate(Counted([1, 2, 3]));
            // SAFETY: from `allocate`, never shared.
            unsafe { drop_box(first) };
            assert_eq!(DROPS.load(Ordering::Relaxed), 1, "the value was dropped");
            let second = pool::allocate(Counted([4, 5, 6]));
            assert_eq!(first, second, "the pooled block was reused");
            // SAFETY: from `allocate`, never shared.
            assert_eq!(unsafe { &(*second).0 }, &[4, 5, 6]);
            // SAFETY: as above.
            unsafe { drop_box(second) };
        })
        .join()
        .unwrap();
    }
}
